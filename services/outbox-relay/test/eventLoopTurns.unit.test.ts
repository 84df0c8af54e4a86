import type { SourceRecord, StreamShard } from '../src/source/StreamShard';
import { FakeSource, insert, relayOver } from './fakes';
import { waitFor } from '@outbox/testkit';

const shard: StreamShard = { shardId: 'shardId-1' };

describe('the event loop between batches (over an in-memory source and publisher that never wait)', () => {
  test('When a shard drains a long backlog whose reads and publishes answer at once, then timers run between its batches, so lease renewals are not held back', async () => {
    const count = 2000;
    const records: SourceRecord[] = Array.from({ length: count }, (_, i) =>
      insert(shard.shardId, String(i + 1), `agg-${i % 7}`, Math.floor(i / 7) + 1),
    );
    const source = new FakeSource([shard], new Map([[shard.shardId, records]]));
    const { relay, publisher } = relayOver(source, { batchSize: 10 });
    // What a renewal timer would see: the published count each time a timer gets to run.
    const seen: number[] = [];
    const timer = setInterval(() => seen.push(publisher.events.length), 1);
    relay.start();
    try {
      await waitFor(() => publisher.events.length === count, { timeoutMs: 20_000, what: 'the backlog published' });
    } finally {
      clearInterval(timer);
      await relay.stop();
    }
    // Timers ran while the backlog was being published, not only before it started or after it ended.
    const during = seen.filter((published) => published > 0 && published < count);
    expect(during.length).toBeGreaterThanOrEqual(5);
  });
});
