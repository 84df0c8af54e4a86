import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDbStreamSource } from '../src/source/DynamoDbStreamSource';
import { isDrained, planShards, type ShardProgress } from '../src/source/ShardLineage';
import type { StreamShard } from '../src/source/StreamShard';
import recorded from './fixtures/describeStream-split.json';
import { metricValue } from './support';
import { FakeBackfill, FakeSource, MemoryCheckpoints, expired, insert, relayOver, trimmed } from './fakes';
import { waitFor } from '@outbox/testkit';

const ROOT = 'shardId-00000001763626443512-0a1b2c3d';
const LEFT = 'shardId-00000001763640843777-1b2c3d4e';
const RIGHT = 'shardId-00000001763640843778-2c3d4e5f';
const GRANDCHILD = 'shardId-00000001763655243901-3d4e5f60';

/** The recorded pages through the real DynamoDbStreamSource (a fake client replays them). */
async function recordedShards(): Promise<{ shards: StreamShard[]; requests: (string | undefined)[] }> {
  const requests: (string | undefined)[] = [];
  const streams = {
    send: async (command: { input: { ExclusiveStartShardId?: string } }) => {
      requests.push(command.input.ExclusiveStartShardId);
      return recorded.pages[requests.length - 1];
    },
  } as unknown as DynamoDBStreamsClient;
  const source = new DynamoDbStreamSource({ streams, streamArn: recorded.pages[0].StreamDescription.StreamArn });
  return { shards: await source.listShards(), requests };
}

describe('shard lineage (recorded DescribeStream shapes, replayed by a fake client)', () => {
  test('When DescribeStream answers in pages, then every shard of every page is listed with its parent and range', async () => {
    const { shards, requests } = await recordedShards();
    expect(requests).toEqual([undefined, RIGHT]);
    expect(shards.map((s) => s.shardId)).toEqual([ROOT, LEFT, RIGHT, GRANDCHILD]);
    expect(shards[1]).toMatchObject({ parentShardId: ROOT, endingSequenceNumber: '200000000000000000009' });
    expect(shards[2].endingSequenceNumber).toBeUndefined();
  });

  test('When a shard split, then its children wait until it ended, and a grandchild waits for its own parent', async () => {
    const { shards } = await recordedShards();
    const progress = new Map<string, ShardProgress>();
    // The root's parent is no longer described (trimmed): the root is readable at once.
    expect(planShards(shards, progress)).toEqual({
      readable: [ROOT],
      waiting: [LEFT, RIGHT, GRANDCHILD],
      vanished: [],
    });
    progress.set(ROOT, { ended: true, sequenceNumber: '100000000000000000009' });
    expect(planShards(shards, progress)).toEqual({ readable: [LEFT, RIGHT], waiting: [GRANDCHILD], vanished: [] });
    progress.set(LEFT, { ended: true });
    expect(planShards(shards, progress).readable).toEqual([RIGHT, GRANDCHILD]);
  });

  test('When a started shard is no longer described, then it is reported as vanished so its rest is backfilled', async () => {
    const { shards } = await recordedShards();
    const progress = new Map<string, ShardProgress>([
      ['shardId-00000001763612043001-99999999', { ended: false, sequenceNumber: '5' }],
      ['shardId-00000001763600000000-88888888', { ended: true }],
    ]);
    expect(planShards(shards, progress).vanished).toEqual(['shardId-00000001763612043001-99999999']);
  });

  test('When a closed shard is checkpointed at its ending sequence number, then it counts as drained', async () => {
    const { shards } = await recordedShards();
    expect(isDrained(shards[0], { ended: false, sequenceNumber: '100000000000000000009' })).toBe(true);
    expect(isDrained(shards[0], { ended: false, sequenceNumber: '100000000000000000008' })).toBe(false);
    expect(isDrained(shards[2], { ended: false, sequenceNumber: '999999999999999999999' })).toBe(false);
  });

  test('When the relay reads the recorded split, then it publishes the parent to its end before either child, and the grandchild last (fake source)', async () => {
    const { shards } = await recordedShards();
    const records = new Map([
      [
        ROOT,
        [
          insert(ROOT, '100000000000000000001', 'a', 1),
          insert(ROOT, '100000000000000000002', 'b', 1),
          insert(ROOT, '100000000000000000009', 'a', 2),
        ],
      ],
      [LEFT, [insert(LEFT, '200000000000000000001', 'a', 3)]],
      [RIGHT, [insert(RIGHT, '300000000000000000001', 'b', 2)]],
      [GRANDCHILD, [insert(GRANDCHILD, '400000000000000000001', 'a', 4)]],
    ]);
    // Children's records are placed first in the listing order too: order must come from lineage.
    const source = new FakeSource([shards[3], shards[1], shards[2], shards[0]], records);
    const { relay, publisher, checkpoints } = relayOver(source);
    relay.start();
    try {
      await waitFor(() => publisher.events.length === 6, { what: 'six events' });
    } finally {
      await relay.stop();
    }
    const order = publisher.events.map((e) => `${e.shardId.slice(-8)}:${e.envelope.aggregateId}${e.envelope.seq}`);
    expect(order.slice(0, 3)).toEqual(['0a1b2c3d:a1', '0a1b2c3d:b1', '0a1b2c3d:a2']);
    expect(order.indexOf('3d4e5f60:a4')).toBeGreaterThan(order.indexOf('1b2c3d4e:a3'));
    const stored = await checkpoints.list(source.streamArn);
    expect(stored.find((c) => c.shardId === ROOT)).toMatchObject({
      ended: true,
      sequenceNumber: '100000000000000000009',
    });
    expect(stored.find((c) => c.shardId === LEFT)).toMatchObject({ ended: true });
    expect(stored.find((c) => c.shardId === RIGHT)).toMatchObject({
      ended: false,
      sequenceNumber: '300000000000000000001',
    });
  });

  test('When an iterator expires, then it is re-acquired after the checkpoint and nothing is lost or repeated (fake source: DynamoDB Local cannot expire an iterator in test time)', async () => {
    const shard = { shardId: 'shardId-1' };
    const records = new Map([['shardId-1', [1, 2, 3, 4, 5].map((n) => insert('shardId-1', String(n), 'agg', n))]]);
    const source = new FakeSource([shard], records);
    const { relay, publisher } = relayOver(source);
    // The second read (after the first batch of 2 was checkpointed) finds its iterator expired.
    const read = source.read.bind(source);
    let reads = 0;
    source.read = async (shardId, iterator, limit) => {
      reads += 1;
      if (reads === 2) throw expired();
      return read(shardId, iterator, limit);
    };
    relay.start();
    try {
      await waitFor(() => publisher.events.length >= 5, { what: 'five events' });
    } finally {
      await relay.stop();
    }
    expect(publisher.events.map((e) => e.envelope.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(source.iteratorRequests.slice(0, 2)).toEqual([
      { shardId: 'shardId-1', after: undefined },
      { shardId: 'shardId-1', after: '2' },
    ]);
  });

  test('When a read says the iterator is no longer valid (fell behind the trim horizon) but the checkpoint is still readable, then the iterator is re-acquired from the checkpoint without a backfill (fake source; DynamoDB Local does this to a TRIM_HORIZON iterator taken on an empty shard)', async () => {
    const records = new Map([['shardId-1', [1, 2, 3].map((n) => insert('shardId-1', String(n), 'agg', n))]]);
    const source = new FakeSource([{ shardId: 'shardId-1' }], records);
    const read = source.read.bind(source);
    let reads = 0;
    source.read = async (shardId, iterator, limit) => {
      reads += 1;
      if (reads === 2) throw expired();
      return read(shardId, iterator, limit);
    };
    const backfill = new FakeBackfill([]);
    const { relay, publisher } = relayOver(source, { backfill });
    relay.start();
    try {
      await waitFor(() => publisher.events.length >= 3, { what: 'three events' });
    } finally {
      await relay.stop();
    }
    expect(publisher.events.map((e) => e.envelope.seq)).toEqual([1, 2, 3]);
    expect(source.iteratorRequests[1]).toEqual({ shardId: 'shardId-1', after: '2' });
    expect(backfill.calls).toEqual([]);
  });

  test('When the checkpoint lies before the trim horizon, then the relay backfills from the outbox table since the checkpoint, counts it, and reads on from the trim horizon (fake source: DynamoDB Local keeps records 24 h)', async () => {
    const shard = { shardId: 'shardId-1' };
    const t = (minute: number) => new Date(Date.UTC(2026, 10, 23, 10, minute)).toISOString();
    // The stream kept only the newest record; the table still has what the stream lost.
    const source = new FakeSource([shard], new Map([['shardId-1', [insert('shardId-1', '900', 'agg', 4, t(40))]]]));
    source.failNext.iteratorFor.push(trimmed());
    const table = [1, 2, 3, 4].map((n) => insert('backfill', `agg#${n}`, 'agg', n, t(10 * n)));
    const backfill = new FakeBackfill(table);
    const checkpoints = new MemoryCheckpoints();
    await checkpoints.write(
      source.streamArn,
      { shardId: 'shardId-1', sequenceNumber: '100', ended: false, lastServerTimeMs: Date.parse(t(10)) },
      {} as never,
    );
    checkpoints.pointer = { streamArn: source.streamArn };
    const { relay, publisher, registry } = relayOver(source, { checkpoints, backfill });
    relay.start();
    try {
      await waitFor(() => publisher.events.length >= 5, { what: 'backfilled and streamed events' });
    } finally {
      await relay.stop();
    }
    expect(backfill.calls).toEqual([t(10)]);
    // seq 1 was read before the checkpoint; the overlap (0 here) starts at its server-side time.
    expect(publisher.events.map((e) => `${e.shardId}:${e.envelope.seq}`)).toEqual([
      'backfill:1',
      'backfill:2',
      'backfill:3',
      'backfill:4',
      'shardId-1:4',
    ]);
    expect(source.starts).toEqual([{ after: '100' }, { from: 'trim_horizon' }]);
    const text = await registry.getSingleMetricAsString('relay_records_backfilled_total');
    expect(metricValue(text, 'relay_records_backfilled_total', { reason: 'trimmed' })).toBe(4);
  });
});
