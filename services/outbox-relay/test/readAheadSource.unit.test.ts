import { isSourceError } from '../src/source/SourceError';
import { ReadAheadSource } from '../src/source/ReadAheadSource';
import type { RecordBatch, SourceRecord, StreamShard } from '../src/source/StreamShard';
import { FakeBackfill, FakeSource, expired, insert, relayOver, trimmed } from './fakes';
import { waitFor } from '@outbox/testkit';

const shard: StreamShard = { shardId: 'shardId-1' };
const other: StreamShard = { shardId: 'shardId-2' };

/** An in-memory source (scripted, no server can time these cases) that counts the reads reaching it. */
class CountingSource extends FakeSource {
  readonly reads: string[] = [];
  override async read(shardId: string, iterator: string, limit: number): Promise<RecordBatch> {
    this.reads.push(iterator);
    return super.read(shardId, iterator, limit);
  }
}

function records(shardId: string, count: number): SourceRecord[] {
  return Array.from({ length: count }, (_, i) => insert(shardId, String(i + 1), `agg-${shardId}`, i + 1));
}

function sourceWith(count: number, shards: StreamShard[] = [shard]) {
  return new CountingSource(shards, new Map(shards.map((s) => [s.shardId, records(s.shardId, count)])));
}

describe('read-ahead source (over a scripted in-memory source)', () => {
  test('When a read returns records and a next iterator, then the next iterator is read at once, and the next read with it is served from that read ahead', async () => {
    const inner = sourceWith(5);
    const source = new ReadAheadSource(inner);
    const iterator = (await source.iteratorFor(shard, { from: 'start' })) as string;
    const first = await source.read('shardId-1', iterator, 2);
    expect(first.records.map((r) => r.sequenceNumber)).toEqual(['1', '2']);
    // The read ahead was issued before anybody asked for it.
    await waitFor(() => inner.reads.length === 2, { timeoutMs: 1000, what: 'the read ahead' });
    expect(inner.reads).toEqual([iterator, first.nextIterator]);

    const second = await source.read('shardId-1', first.nextIterator as string, 2);
    expect(second.records.map((r) => r.sequenceNumber)).toEqual(['3', '4']);
    // Served without a read of its own; the read ahead of the third batch started.
    expect(inner.reads).toEqual([iterator, first.nextIterator, second.nextIterator]);
    expect(source.stats).toEqual({ started: 2, served: 1, dropped: 0 });
    // At most one batch per shard is held.
    expect(source.pending).toBe(1);
  });

  test('When the read ahead fails, then its error is thrown by the next read with that iterator (not earlier, not lost), with its code intact', async () => {
    const inner = sourceWith(4);
    const source = new ReadAheadSource(inner);
    const iterator = (await source.iteratorFor(shard, { from: 'start' })) as string;
    const realRead = inner.read.bind(inner);
    let failed = 0;
    inner.read = async (shardId, it, limit) => {
      if (it === 'shardId-1|2') {
        failed += 1;
        throw trimmed();
      }
      return realRead(shardId, it, limit);
    };
    const first = await source.read('shardId-1', iterator, 2);
    // The read ahead ran and failed before anybody asked for it; nothing was thrown yet.
    await waitFor(() => failed === 1, { timeoutMs: 1000, what: 'the failing read ahead' });

    const error = await source.read('shardId-1', first.nextIterator as string, 2).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(isSourceError(error, 'source.trimmed')).toBe(true);
    expect(source.stats.served).toBe(1);
    expect(source.pending).toBe(0);
    expect(failed).toBe(1);
  });

  test('When the next call is a read with another iterator, an iteratorFor, or a reset, then the read ahead is dropped and the call reads the source itself', async () => {
    const inner = sourceWith(10);
    const source = new ReadAheadSource(inner);
    const start = (await source.iteratorFor(shard, { from: 'start' })) as string;

    // Another iterator: the read ahead of `2` is not used for `0`.
    const first = await source.read('shardId-1', start, 2);
    expect(source.pending).toBe(1);
    const again = await source.read('shardId-1', start, 2);
    expect(again.records.map((r) => r.sequenceNumber)).toEqual(['1', '2']);
    expect(source.stats.dropped).toBe(1);
    expect(inner.reads.filter((it) => it === start)).toHaveLength(2);

    // iteratorFor (the relay re-acquiring from its checkpoint) drops it too.
    expect(source.pending).toBe(1);
    const fresh = (await source.iteratorFor(shard, { after: '2' })) as string;
    expect(source.pending).toBe(0);
    expect(source.stats.dropped).toBe(2);
    const readsBefore = inner.reads.length;
    const third = await source.read('shardId-1', fresh, 2);
    expect(third.records.map((r) => r.sequenceNumber)).toEqual(['3', '4']);
    expect(inner.reads.length).toBe(readsBefore + 2); // its own read, then the next read ahead

    // A reset drops every shard's read ahead; the next read goes to the source.
    source.reset();
    expect(source.pending).toBe(0);
    expect(source.stats.dropped).toBe(3);
    const readsAfterReset = inner.reads.length;
    await source.read('shardId-1', third.nextIterator as string, 2);
    expect(inner.reads[readsAfterReset]).toBe(third.nextIterator);
    expect(first.nextIterator).toBe('shardId-1|2');
  });

  test('When the iterator is re-acquired while a read is still running, then that read starts no read ahead', async () => {
    const inner = sourceWith(10);
    const source = new ReadAheadSource(inner);
    const start = (await source.iteratorFor(shard, { from: 'start' })) as string;
    // The read reaching the source waits until released.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const realRead = inner.read.bind(inner);
    inner.read = async (shardId, iterator, limit) => {
      if (iterator === start) await gate;
      return realRead(shardId, iterator, limit);
    };
    const reading = source.read('shardId-1', start, 2);
    await source.iteratorFor(shard, { after: '2' });
    release();
    expect((await reading).records).toHaveLength(2);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(source.pending).toBe(0);
    expect(source.stats.started).toBe(0);
  });

  test('When a batch is empty (at the tip) or the shard ended, then nothing is read ahead; an empty read ahead is read again fresh', async () => {
    const inner = sourceWith(2);
    const source = new ReadAheadSource(inner);
    const start = (await source.iteratorFor(shard, { from: 'start' })) as string;
    const full = await source.read('shardId-1', start, 2);
    expect(full.records).toHaveLength(2);
    // The read ahead of the tip finds nothing; it is not served: the same iterator is read again.
    const tip = await source.read('shardId-1', full.nextIterator as string, 2);
    expect(tip.records).toHaveLength(0);
    expect(inner.reads).toEqual([start, full.nextIterator, full.nextIterator]);
    expect(source.pending).toBe(0);

    // A closed shard read to its end: no next iterator, no read ahead.
    const closed: StreamShard = { shardId: 'shardId-9', endingSequenceNumber: '2' };
    const ended = new CountingSource([closed], new Map([['shardId-9', records('shardId-9', 2)]]));
    const endedSource = new ReadAheadSource(ended);
    const it = (await endedSource.iteratorFor(closed, { from: 'start' })) as string;
    const last = await endedSource.read('shardId-9', it, 5);
    expect(last.nextIterator).toBeUndefined();
    expect(endedSource.pending).toBe(0);
    expect(ended.reads).toEqual([it]);
  });

  test('When shards are read in turn, then each holds its own read ahead, one at most', async () => {
    const inner = sourceWith(6, [shard, other]);
    const source = new ReadAheadSource(inner);
    const a = (await source.iteratorFor(shard, { from: 'start' })) as string;
    const b = (await source.iteratorFor(other, { from: 'start' })) as string;
    const firstA = await source.read('shardId-1', a, 2);
    const firstB = await source.read('shardId-2', b, 2);
    expect(source.pending).toBe(2);
    const secondA = await source.read('shardId-1', firstA.nextIterator as string, 2);
    const secondB = await source.read('shardId-2', firstB.nextIterator as string, 2);
    expect(secondA.records.map((r) => r.shardId)).toEqual(['shardId-1', 'shardId-1']);
    expect(secondB.records.map((r) => r.sequenceNumber)).toEqual(['3', '4']);
    expect(source.pending).toBe(2);
    expect(source.stats.served).toBe(2);
  });

  test('When more shards read than maxShards allows, then only that many hold a read ahead at once; a shard without one reads on demand, and a freed place goes to the next shard that reads', async () => {
    const third: StreamShard = { shardId: 'shardId-3' };
    const inner = sourceWith(6, [shard, other, third]);
    const source = new ReadAheadSource(inner, { maxShards: 2 });
    const starts = await Promise.all([shard, other, third].map((s) => source.iteratorFor(s, { from: 'start' })));
    const [firstA, firstB, firstC] = [
      await source.read('shardId-1', starts[0] as string, 2),
      await source.read('shardId-2', starts[1] as string, 2),
      await source.read('shardId-3', starts[2] as string, 2),
    ];
    // Two places, taken by the first two shards; the third started none.
    expect(source.pending).toBe(2);
    expect(source.stats.started).toBe(2);
    await waitFor(() => inner.reads.length === 5, { timeoutMs: 1000, what: 'the two reads ahead' });
    expect(inner.reads).not.toContain(firstC.nextIterator);

    // The third shard reads its next batch itself, in order, and still finds no free place.
    const secondC = await source.read('shardId-3', firstC.nextIterator as string, 2);
    expect(secondC.records.map((r) => r.sequenceNumber)).toEqual(['3', '4']);
    expect(source.pending).toBe(2);
    // The first shard's read ahead is served, which frees its place; its own next read ahead takes it again.
    await source.read('shardId-1', firstA.nextIterator as string, 2);
    expect(source.pending).toBe(2);
    expect(source.stats).toEqual({ started: 3, served: 1, dropped: 0 });
    // A reset frees both places: the third shard's next read takes one.
    source.reset();
    await source.read('shardId-3', secondC.nextIterator as string, 2);
    expect(source.pending).toBe(1);
    expect(firstB.records).toHaveLength(2);
  });

  test('When a shard is released, then its read ahead is dropped and its place goes to the next shard that reads', async () => {
    const inner = sourceWith(6, [shard, other]);
    const source = new ReadAheadSource(inner, { maxShards: 1 });
    const a = (await source.iteratorFor(shard, { from: 'start' })) as string;
    const b = (await source.iteratorFor(other, { from: 'start' })) as string;
    await source.read('shardId-1', a, 2);
    await source.read('shardId-2', b, 2);
    expect(source.pending).toBe(1);
    expect(source.stats.started).toBe(1);
    source.release('shardId-1');
    expect(source.pending).toBe(0);
    expect(source.stats.dropped).toBe(1);
  });
});

describe('relay over a read-ahead source (scripted in-memory source)', () => {
  test('When the read ahead of a batch finds the records trimmed, then the relay backfills from the table as without read-ahead, and every event is published once in order', async () => {
    const recs = records('shardId-1', 6);
    const inner = new CountingSource([shard], new Map([['shardId-1', recs]]));
    // The second read (the first read ahead) reports the trim; the table still holds everything.
    const realRead = inner.read.bind(inner);
    let reads = 0;
    inner.read = async (shardId, iterator, limit) => {
      reads += 1;
      if (reads === 2) throw trimmed();
      return realRead(shardId, iterator, limit);
    };
    const { relay, publisher } = relayOver(new ReadAheadSource(inner), { backfill: new FakeBackfill(recs) });
    relay.start();
    try {
      await waitFor(() => publisher.events.length >= 6 && inner.iteratorRequests.length >= 2, {
        timeoutMs: 5000,
        what: 'the backfill and the shard read from the trim horizon',
      });
    } finally {
      await relay.stop();
    }
    // The trim was seen by the relay: it re-acquired from the trim horizon after a backfill.
    expect(inner.starts).toContainEqual({ from: 'trim_horizon' });
    const firsts: number[] = [];
    for (const event of publisher.events) if (!firsts.includes(event.envelope.seq)) firsts.push(event.envelope.seq);
    expect(firsts).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('When the read ahead finds its iterator expired, then the relay re-acquires the iterator from its checkpoint and loses nothing', async () => {
    const recs = records('shardId-1', 6);
    const inner = new CountingSource([shard], new Map([['shardId-1', recs]]));
    const realRead = inner.read.bind(inner);
    let reads = 0;
    inner.read = async (shardId, iterator, limit) => {
      reads += 1;
      if (reads === 2) throw expired();
      return realRead(shardId, iterator, limit);
    };
    const { relay, publisher, checkpoints } = relayOver(new ReadAheadSource(inner));
    relay.start();
    try {
      await waitFor(() => publisher.events.length >= 6, { timeoutMs: 5000, what: 'every event published' });
    } finally {
      await relay.stop();
    }
    expect(publisher.events.map((e) => e.envelope.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    // Re-acquired after the checkpoint of the first batch, not from the start.
    expect(inner.iteratorRequests).toEqual([
      { shardId: 'shardId-1', after: undefined },
      { shardId: 'shardId-1', after: '2' },
    ]);
    expect((await checkpoints.read(inner.streamArn, 'shardId-1'))?.sequenceNumber).toBe('6');
  });

  test("When a shard's loop ends with records left (here: the relay stops mid-stream), then the relay releases the shard and no batch stays read ahead for it", async () => {
    const inner = sourceWith(200);
    // The fourth batch's read waits until the relay is stopping, so the loop ends with records left.
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let reached = false;
    const realRead = inner.read.bind(inner);
    inner.read = async (shardId, iterator, limit) => {
      if (iterator === 'shardId-1|6') {
        reached = true;
        await gate;
      }
      return realRead(shardId, iterator, limit);
    };
    const source = new ReadAheadSource(inner);
    const { relay, publisher } = relayOver(source);
    relay.start();
    let stopping: Promise<void> | undefined;
    try {
      await waitFor(() => reached, { timeoutMs: 5000, what: 'the fourth read' });
    } finally {
      stopping = relay.stop();
      open();
      await stopping;
    }
    expect(publisher.events.length).toBeLessThan(200);
    expect(source.stats.dropped).toBeGreaterThan(0);
    expect(source.pending).toBe(0);
  });
});
