import type { LeaseFence } from '../src/lease/LeaderLease';
import type { ShardCheckpoint } from '../src/checkpoint/CheckpointStore';
import type { SourceRecord, StreamShard } from '../src/source/StreamShard';
import { FakeSource, MemoryCheckpoints, insert, relayOver } from './fakes';
import { metricValue, waitFor } from '@outbox/testkit';

const shard: StreamShard = { shardId: 'shardId-1' };

function records(count: number): SourceRecord[] {
  return Array.from({ length: count }, (_, i) => insert(shard.shardId, String(i + 1), 'agg-1', i + 1));
}

/**
 * Checkpoints in memory whose writes wait at a gate the test opens, or fail when told to: a slow
 * or failing checkpoint table is timed here, which no local server does on cue.
 */
class GatedCheckpoints extends MemoryCheckpoints {
  /** Every write asked for, in order, with the sequence number it stores. */
  readonly asked: (string | undefined)[] = [];
  failNext = 0;
  private gate?: Promise<void>;
  private openGate?: () => void;

  close(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }
  open(): void {
    this.openGate?.();
    this.gate = undefined;
  }
  override async write(streamArn: string, checkpoint: ShardCheckpoint, fence: LeaseFence): Promise<void> {
    this.asked.push(checkpoint.sequenceNumber);
    await this.gate;
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw Object.assign(new Error('checkpoint table unavailable'), { name: 'InternalServerError' });
    }
    await super.write(streamArn, checkpoint, fence);
  }
  stored(source: FakeSource): string | undefined {
    return this.byStream.get(source.streamArn)?.get(shard.shardId)?.sequenceNumber;
  }
}

describe('checkpoints written in the background (over scripted in-memory checkpoints)', () => {
  test('When a checkpoint write is slow, then the shard publishes on meanwhile, and the last checkpoint is stored once the write lands', async () => {
    const source = new FakeSource([shard], new Map([[shard.shardId, records(8)]]));
    const checkpoints = new GatedCheckpoints();
    checkpoints.close();
    const { relay, publisher } = relayOver(source, { checkpoints });
    relay.start();
    try {
      // Every batch reached Kafka while the first write (after the first batch of two) still waits.
      await waitFor(() => publisher.events.length === 8, { timeoutMs: 5000, what: 'all 8 events published' });
      expect(checkpoints.asked).toEqual(['2']);
      expect(checkpoints.stored(source)).toBeUndefined();
      checkpoints.open();
      await waitFor(() => checkpoints.stored(source) === '8', { timeoutMs: 5000, what: 'the last checkpoint stored' });
    } finally {
      checkpoints.open();
      await relay.stop();
    }
    // In order, one at a time: never an older checkpoint after a newer one.
    const asked = checkpoints.asked.map(Number);
    expect(asked).toEqual([...asked].sort((a, b) => a - b));
    expect(publisher.events.map((event) => event.envelope.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('When a checkpoint write fails, then the failure is counted, the shard loses and repeats nothing, and a later write stores the last checkpoint', async () => {
    const source = new FakeSource([shard], new Map([[shard.shardId, records(8)]]));
    const checkpoints = new GatedCheckpoints();
    checkpoints.failNext = 1;
    const { relay, publisher, registry } = relayOver(source, { checkpoints });
    relay.start();
    try {
      await waitFor(() => checkpoints.stored(source) === '8', { timeoutMs: 5000, what: 'the last checkpoint stored' });
    } finally {
      await relay.stop();
    }
    expect(metricValue(await registry.metrics(), 'relay_checkpoint_writes_total', { outcome: 'failed' })).toBe(1);
    // The shard went on from its checkpoint in memory (Kafka had acknowledged up to it).
    expect(publisher.events.map((event) => event.envelope.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('When the relay stops while a checkpoint write is in flight, then the stop waits for it and stores the last checkpoint after it', async () => {
    const source = new FakeSource([shard], new Map([[shard.shardId, records(4)]]));
    const checkpoints = new GatedCheckpoints();
    checkpoints.close();
    const { relay, publisher } = relayOver(source, { checkpoints });
    relay.start();
    await waitFor(() => publisher.events.length === 4, { timeoutMs: 5000, what: 'all 4 events published' });
    const stopped = relay.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await waitFor(() => checkpoints.asked.length >= 1, { timeoutMs: 5000, what: 'the write in flight' });
    // Not done while the write waits: the stop's last checkpoint comes after it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    checkpoints.open();
    await stopped;
    expect(checkpoints.stored(source)).toBe('4');
    expect(checkpoints.asked).toEqual(['2', '4']);
  });
});
