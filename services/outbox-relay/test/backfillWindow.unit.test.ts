import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { KinesisSource } from '../src/source/KinesisSource';
import { BackfillCoordinator } from '../src/relay/BackfillCoordinator';
import { FakeBackfill, FakeSource, MemoryCheckpoints, insert, relayOver, trimmed } from './fakes';
import { waitFor } from '@outbox/testkit';

const T = (minute: number) => Date.UTC(2026, 10, 25, 10, minute);
const iso = (ms: number) => new Date(ms).toISOString();
const OVERLAP = 60_000;
const noFence = {} as never;

describe('the backfill window: server-side times, minimum over unfinished shards (fake sources)', () => {
  test('When a shard never checkpointed turns out trimmed, then the table is backfilled from where its ended parent stopped (older than the other unfinished shard) minus the overlap, once, and the shard is read from its trim horizon (fake source: no local server trims)', async () => {
    // shardId-new's parent was read to its end and has been trimmed out of the listing since.
    const source = new FakeSource(
      [{ shardId: 'shardId-a' }, { shardId: 'shardId-new', parentShardId: 'shardId-gone' }],
      new Map([['shardId-new', [insert('shardId-new', '50', 'y', 2, iso(T(30)), T(30))]]]),
    );
    source.iteratorFor = (({ original }) =>
      async function (this: FakeSource, shard, start) {
        if (shard.shardId === 'shardId-new' && 'from' in start && start.from === 'start') {
          this.starts.push(start);
          throw trimmed('shardId-new');
        }
        return original.call(this, shard, start);
      })({ original: source.iteratorFor });
    const checkpoints = new MemoryCheckpoints();
    await checkpoints.write(
      source.streamArn,
      { shardId: 'shardId-a', sequenceNumber: '10', ended: false, lastServerTimeMs: T(40) },
      noFence,
    );
    await checkpoints.write(
      source.streamArn,
      { shardId: 'shardId-gone', ended: true, lastServerTimeMs: T(20) },
      noFence,
    );
    checkpoints.pointer = { streamArn: source.streamArn };
    const backfill = new FakeBackfill([insert('backfill', 'y#1', 'y', 1, iso(T(25)))]);
    const { relay, publisher } = relayOver(source, { checkpoints, backfill, backfillOverlapMs: OVERLAP });
    relay.start();
    try {
      await waitFor(() => publisher.events.some((e) => e.shardId === 'shardId-new'), {
        what: 'the trimmed shard read on',
      });
    } finally {
      await relay.stop();
    }
    expect(backfill.calls).toEqual([iso(T(20) - OVERLAP)]);
    expect(publisher.events.map((e) => `${e.shardId}:${e.envelope.aggregateId}#${e.envelope.seq}`)).toEqual([
      'backfill:y#1',
      'shardId-new:y#2',
    ]);
    expect(source.starts.filter((_, i) => source.iteratorRequests[i]?.shardId !== 'shardId-a')).toEqual([
      { from: 'start' },
      { from: 'trim_horizon' },
    ]);
    expect((await checkpoints.read(source.streamArn, 'shardId-new'))?.trimBackfilled).toBe(true);
  });

  test('When events carry a far-future occurredAt (a writer clock years ahead), then the backfill window still starts at the server-side position minus the overlap', async () => {
    const future = '2099-01-01T00:00:00.000Z';
    const source = new FakeSource(
      [{ shardId: 'shardId-1' }],
      new Map([
        [
          'shardId-1',
          [insert('shardId-1', '1', 'x', 1, future, T(10)), insert('shardId-1', '2', 'x', 2, future, T(11))],
        ],
      ]),
    );
    const checkpoints = new MemoryCheckpoints();
    checkpoints.pointer = { streamArn: source.streamArn };
    const backfill = new FakeBackfill([]);
    const { relay, publisher } = relayOver(source, { checkpoints, backfill, backfillOverlapMs: OVERLAP });
    relay.start();
    try {
      await waitFor(() => publisher.events.length >= 2, { what: 'two events' });
    } finally {
      await relay.stop();
    }
    // While no relay runs, the stream trims past the checkpoint.
    source.failNext.iteratorFor.push(trimmed());
    const stored = await checkpoints.read(source.streamArn, 'shardId-1');
    expect(stored?.lastServerTimeMs).toBe(T(11));
    const { relay: next } = relayOver(source, { checkpoints, backfill, backfillOverlapMs: OVERLAP });
    next.start();
    try {
      await waitFor(() => backfill.calls.length >= 1, { what: 'a backfill' });
    } finally {
      await next.stop();
    }
    expect(backfill.calls).toEqual([iso(T(11) - OVERLAP)]);
  });

  test('When one shard is trimmed while another unfinished shard lags behind, then the window starts at the lagging shard (the minimum over unfinished shards, ended shards left out), so an aggregate split over both is published in seq order', async () => {
    // x#1 sits unread in the lagging shard A; x#2 was in shard B, whose checkpoint was trimmed.
    const source = new FakeSource(
      [{ shardId: 'shardId-z' }, { shardId: 'shardId-b' }],
      new Map([
        [
          'shardId-z',
          [insert('shardId-z', '10', 'w', 1, iso(T(5)), T(5)), insert('shardId-z', '11', 'x', 1, iso(T(6)), T(6))],
        ],
        ['shardId-b', []],
      ]),
    );
    const checkpoints = new MemoryCheckpoints();
    const stream = source.streamArn;
    await checkpoints.write(
      stream,
      { shardId: 'shardId-z', sequenceNumber: '10', ended: false, lastServerTimeMs: T(5) },
      noFence,
    );
    await checkpoints.write(
      stream,
      { shardId: 'shardId-b', sequenceNumber: '20', ended: false, lastServerTimeMs: T(40) },
      noFence,
    );
    await checkpoints.write(stream, { shardId: 'shardId-old', ended: true, lastServerTimeMs: T(1) }, noFence);
    checkpoints.pointer = { streamArn: stream };
    const table = [insert('backfill', 'x#1', 'x', 1, iso(T(6))), insert('backfill', 'x#2', 'x', 2, iso(T(45)))];
    const backfill = new FakeBackfill(table);
    source.iteratorFor = (({ original }) =>
      async function (this: FakeSource, shard, start) {
        if (shard.shardId === 'shardId-b' && 'after' in start) throw trimmed('shardId-b');
        return original.call(this, shard, start);
      })({ original: source.iteratorFor });
    // Shards B and Z are read by loops of their own, concurrently.
    const { relay, publisher } = relayOver(source, { checkpoints, backfill, backfillOverlapMs: OVERLAP, batchSize: 1 });
    relay.start();
    try {
      await waitFor(
        () =>
          backfill.calls.length >= 1 &&
          publisher.events.some((e) => e.shardId === 'shardId-z' && e.envelope.aggregateId === 'x'),
        {
          what: 'the backfill and shard A read on',
        },
      );
    } finally {
      await relay.stop();
    }
    expect(backfill.calls).toEqual([iso(T(5) - OVERLAP)]);
    const x = publisher.events
      .filter((e) => e.envelope.aggregateId === 'x')
      .map((e) => `${e.shardId}:${e.envelope.seq}`);
    // Both of x's events come from the backfill, x#1 before x#2; shard Z's copy of x#1 comes
    // before or after them (its loop runs concurrently): whichever comes second is a repeat the
    // notifier's cursor drops, so the first deliveries stay in seq order.
    expect([...x].sort()).toEqual(['backfill:1', 'backfill:2', 'shardId-z:1']);
    expect(x.indexOf('backfill:1')).toBeLessThan(x.indexOf('backfill:2'));
    const firsts = [...new Set(x.map((entry) => Number(entry.split(':')[1])))];
    expect(firsts).toEqual([1, 2]);
  });
});

describe('Kinesis trims through the relay (recorded Kinesis answers: kinesalite cannot trim)', () => {
  test('When the checkpointed Kinesis record is gone, then the relay backfills from the shard server-side position minus the overlap and reads on from the trim horizon', async () => {
    const calls: { name: string; input: Record<string, unknown> }[] = [];
    const record = (sequenceNumber: string, aggregateId: string, seq: number, at: number) => ({
      SequenceNumber: sequenceNumber,
      // The GetRecords body as sent: epoch seconds, base64 data.
      ApproximateArrivalTimestamp: at / 1000,
      Data: Buffer.from(
        JSON.stringify({
          eventName: 'INSERT',
          dynamodb: {
            NewImage: {
              eventId: { S: `${aggregateId}-${seq}` },
              eventType: { S: 'OrderCreated' },
              schemaVersion: { N: '1' },
              aggregateType: { S: 'Order' },
              aggregateId: { S: aggregateId },
              seq: { N: String(seq) },
              occurredAt: { S: '2099-01-01T00:00:00.000Z' },
              payload: { M: { orderId: { S: aggregateId } } },
            },
          },
        }),
      ).toString('base64'),
    });
    const kinesis = {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        const name = command.constructor.name;
        calls.push({ name, input: command.input });
        if (name === 'ListShardsCommand') return { Shards: [{ ShardId: 'shardId-000000000000' }] };
        if (name === 'GetShardIteratorCommand')
          return { ShardIterator: `it-${String(command.input.ShardIteratorType)}` };
        if (name === 'GetRecordsCommand') {
          // The stream now starts at 905: the checkpointed 900 (and whatever followed it) was trimmed.
          if (command.input.ShardIterator === 'it-AT_SEQUENCE_NUMBER')
            return { Records: [record('905', 'k', 3, T(50))], NextShardIterator: 'it-next' };
          if (command.input.ShardIterator === 'it-TRIM_HORIZON')
            return { Records: [record('905', 'k', 3, T(50))], NextShardIterator: 'it-tip' };
          return { Records: [], NextShardIterator: 'it-tip', MillisBehindLatest: 0 };
        }
        throw new Error(`unexpected ${name}`);
      },
    } as unknown as KinesisClient;
    const source = new KinesisSource({ kinesis, streamName: 's', streamArn: 'arn:aws:kinesis:us-east-1:1:stream/s' });
    const checkpoints = new MemoryCheckpoints();
    await checkpoints.write(
      source.streamArn,
      { shardId: 'shardId-000000000000', sequenceNumber: '900', ended: false, lastServerTimeMs: T(30) },
      noFence,
    );
    checkpoints.pointer = { streamArn: source.streamArn };
    const backfill = new FakeBackfill([insert('backfill', 'k#2', 'k', 2, iso(T(35)))]);
    const { relay, publisher, registry } = relayOver(source, { checkpoints, backfill, backfillOverlapMs: OVERLAP });
    relay.start();
    try {
      await waitFor(() => publisher.events.length >= 2, { what: 'the backfill and the stream read on' });
    } finally {
      await relay.stop();
    }
    expect(backfill.calls).toEqual([iso(T(30) - OVERLAP)]);
    expect(publisher.events.map((e) => `${e.shardId}:${e.envelope.seq}`)).toEqual([
      'backfill:2',
      'shardId-000000000000:3',
    ]);
    expect(calls.filter((c) => c.name === 'GetShardIteratorCommand').map((c) => c.input.ShardIteratorType)).toEqual([
      'AT_SEQUENCE_NUMBER',
      'TRIM_HORIZON',
    ]);
    const text = await registry.getSingleMetricAsString('relay_records_backfilled_total');
    expect(text).toContain('reason="trimmed"');
  });
});

describe('BackfillCoordinator.startOf (pure)', () => {
  const coordinator = new BackfillCoordinator({
    backfill: new FakeBackfill([]),
    records: {} as never,
    metrics: {} as never,
    logger: {} as never,
    batchSize: 10,
    overlapMs: OVERLAP,
  });

  test('When shards are unfinished, then the window starts at the oldest position among them minus the overlap; a never-read child of an unfinished parent is covered by it; an ended shard does not count', () => {
    expect(
      coordinator.startOf([
        { shardId: 'old', ended: true, lastServerTimeMs: T(1) },
        { shardId: 'p', ended: false, lastServerTimeMs: T(30) },
        { shardId: 'c', ended: false, parentShardId: 'p' },
        { shardId: 'q', ended: false, lastServerTimeMs: T(10) },
      ]),
    ).toBe(T(10) - OVERLAP);
  });

  test('When an unfinished shard has read nothing and has no known parent, then the window is unknown (as far back as the table goes); when every shard ended, it starts at the newest position', () => {
    expect(
      coordinator.startOf([
        { shardId: 'p', ended: false, lastServerTimeMs: T(30) },
        { shardId: 'orphan', ended: false },
      ]),
    ).toBeUndefined();
    expect(
      coordinator.startOf([
        { shardId: 'a', ended: true, lastServerTimeMs: T(3) },
        { shardId: 'b', ended: true, lastServerTimeMs: T(8) },
      ]),
    ).toBe(T(8) - OVERLAP);
  });
});
