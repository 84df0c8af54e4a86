import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClients, createLogger } from '@outbox/shared';
import { createTestTables, testEndpoints, uniqueName } from '@outbox/testkit';
import { LeaseLostError } from '../src/lease/LeaderLease';
import { ShardLeases, queryShardItems } from '../src/lease/ShardLeases';
import type { StreamShard } from '../src/source/StreamShard';

const LEASE_MS = 2000;
const STEAL_MS = 2000;
const ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/outbox';

describe('per-shard leases (DynamoDB Local, injected monotonic clocks)', () => {
  const { dynamodb, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  const logger = createLogger({ service: 'test', level: 'silent' });
  afterAll(() => client.destroy());

  const leasesFor = (table: string, clock: { t: number }, name = 'relay', cleanupAfterMs?: number) =>
    new ShardLeases({
      cleanupAfterMs,
      doc,
      table,
      groupName: 'outbox',
      owner: uniqueName(name),
      leaseDurationMs: LEASE_MS,
      renewIntervalMs: 500,
      scanIntervalMs: 250,
      stealIntervalMs: STEAL_MS,
      logger,
      monotonicNow: () => clock.t,
    });
  const ids = (leases: ShardLeases) =>
    leases
      .owned()
      .map((owned) => owned.shardId)
      .sort();
  const item = async (table: string, shardId: string) =>
    (await doc.send(new GetCommand({ TableName: table, Key: ShardLeases.keyOf(ARN, shardId), ConsistentRead: true })))
      .Item;

  test('When the table holds a checkpoint written by the single-leader relay (no lease owner yet), then the first instance takes it as a free lease and starts the shard at that checkpoint', async () => {
    const { relayState } = await createTestTables();
    // The old layout: the checkpoint item, fenced by the old leader lease's owner and counter.
    await doc.send(
      new PutCommand({
        TableName: relayState,
        Item: {
          ...ShardLeases.keyOf(ARN, 'shard-1'),
          streamArn: ARN,
          shardId: 'shard-1',
          sequenceNumber: '100',
          ended: false,
          lastServerTimeMs: 1_700_000_000_000,
          owner: 'old-leader',
          leaseCounter: 7,
        },
      }),
    );
    const leases = leasesFor(relayState, { t: 0 });
    await leases.offer(ARN, [{ shardId: 'shard-1' }, { shardId: 'shard-2' }]);
    await leases.tick();
    const owned = new Map(leases.owned().map((o) => [o.shardId, o]));
    expect([...owned.keys()].sort()).toEqual(['shard-1', 'shard-2']);
    expect(owned.get('shard-1')?.checkpoint).toMatchObject({
      sequenceNumber: '100',
      lastServerTimeMs: 1_700_000_000_000,
    });
    expect(owned.get('shard-2')?.checkpoint.sequenceNumber).toBeUndefined();
    const stored = await item(relayState, 'shard-1');
    expect(stored).toMatchObject({ leaseCounter: 8, sequenceNumber: '100' });
    expect(stored?.owner).toBeUndefined();
  });

  test('When a closed parent has two children, then no instance takes a child before the parent’s end is stored in its lease item; then both children are taken', async () => {
    const { relayState } = await createTestTables();
    const shards: StreamShard[] = [
      { shardId: 'parent', endingSequenceNumber: '9' },
      { shardId: 'child-a', parentShardId: 'parent' },
      { shardId: 'child-b', parentShardId: 'parent' },
    ];
    const clock = { t: 0 };
    const a = leasesFor(relayState, clock, 'a');
    const b = leasesFor(relayState, clock, 'b');
    await a.offer(ARN, shards);
    await b.offer(ARN, shards);
    await a.tick();
    await b.tick();
    expect(ids(a)).toEqual(['parent']);
    expect(ids(b)).toEqual([]);

    // The parent's owner stores its last checkpoint (not yet the end): the children still wait.
    const [parent] = a.owned();
    await a.checkpoint('parent', parent?.term ?? 0, { shardId: 'parent', sequenceNumber: '5', ended: false });
    await b.tick();
    expect(ids(b)).toEqual([]);

    await a.checkpoint('parent', parent?.term ?? 0, { shardId: 'parent', sequenceNumber: '9', ended: true });
    await a.release('parent', parent?.term ?? 0);
    await b.tick();
    await a.tick();
    // A stolen lease is learnt by its previous holder at its next renewal.
    await b.renewAll();
    expect([...ids(a), ...ids(b)].sort()).toEqual(['child-a', 'child-b']);
    expect((await item(relayState, 'parent'))?.leaseOwner).toBeUndefined();
  });

  test('When a second instance joins one that leads four shards, then it steals at most one lease per steal period until both lead two, and then stops; the robbed instance’s renewal and checkpoint are refused', async () => {
    const { relayState } = await createTestTables();
    const shards: StreamShard[] = ['s1', 's2', 's3', 's4'].map((shardId) => ({ shardId }));
    const clockA = { t: 0 };
    const clockB = { t: 7_000_000 }; // clocks of two machines share no origin
    const a = leasesFor(relayState, clockA, 'a');
    const b = leasesFor(relayState, clockB, 'b');
    await a.offer(ARN, shards);
    await a.renewAll();
    await a.tick();
    expect(ids(a)).toEqual(['s1', 's2', 's3', 's4']);

    await b.offer(ARN, shards);
    await b.renewAll();
    await b.tick();
    expect(ids(b)).toHaveLength(1);
    const [stolen] = ids(b);
    // Within the same steal period nothing more moves, however often it looks (A renews meanwhile).
    const renewBoth = async () => {
      clockA.t += 400;
      await a.renewAll();
      await b.renewAll();
    };
    clockB.t += STEAL_MS / 2;
    await renewBoth();
    await b.tick();
    expect(ids(b)).toHaveLength(1);
    clockB.t += STEAL_MS / 2;
    await renewBoth();
    await b.tick();
    expect(ids(b)).toHaveLength(2);
    // Balanced: later periods steal nothing (no flapping).
    for (let i = 0; i < 3; i += 1) {
      clockB.t += STEAL_MS / 2;
      await renewBoth();
      clockB.t += STEAL_MS / 2;
      await renewBoth();
      await b.tick();
      await a.tick();
    }
    expect(ids(b)).toHaveLength(2);
    expect(ids(a)).toHaveLength(2);
    expect([...ids(a), ...ids(b)].sort()).toEqual(['s1', 's2', 's3', 's4']);
    expect(ids(a)).not.toContain(stolen);
    // A checkpoint for a shard already taken is refused by its lease (A learnt it at renewal).
    await expect(a.checkpoint(stolen as string, 1, { shardId: stolen as string, ended: false })).rejects.toBeInstanceOf(
      LeaseLostError,
    );
  });

  test('When three instances hold 4, 2 and 2 of 8 shards (taken while a fourth was alive), then one with 2 steals from the one with 4 and they settle at 3, 3 and 2 without flapping', async () => {
    const { relayState } = await createTestTables();
    const shards: StreamShard[] = Array.from({ length: 8 }, (_, i) => ({ shardId: `s${i + 1}` }));
    const clocks = { a: { t: 0 }, b: { t: 1_000_000 }, c: { t: 2_000_000 }, d: { t: 3_000_000 } };
    const a = leasesFor(relayState, clocks.a, 'a');
    const b = leasesFor(relayState, clocks.b, 'b');
    const c = leasesFor(relayState, clocks.c, 'c');
    const d = leasesFor(relayState, clocks.d, 'd');
    // A sees two instances (itself and B) and takes its share of 8: 4.
    await a.renewAll();
    await b.renewAll();
    await a.offer(ARN, shards);
    await a.tick();
    expect(ids(a)).toHaveLength(4);
    // C and D beat; B and C see four instances and take 2 each; D never takes anything and stops.
    await c.renewAll();
    await d.renewAll();
    await b.offer(ARN, shards);
    await b.tick();
    await c.offer(ARN, shards);
    await c.tick();
    expect([ids(a).length, ids(b).length, ids(c).length]).toEqual([4, 2, 2]);
    // Time passes for the three live ones; D's heartbeat stands still and stops counting.
    const sizes: number[][] = [];
    for (let round = 0; round < 16; round += 1) {
      for (const clock of [clocks.a, clocks.b, clocks.c]) clock.t += 500;
      for (const leases of [a, b, c]) await leases.renewAll();
      for (const leases of [a, b, c]) await leases.tick();
      sizes.push([ids(a).length, ids(b).length, ids(c).length]);
    }
    expect([...sizes.at(-1)!].sort()).toEqual([2, 3, 3]);
    expect([...ids(a), ...ids(b), ...ids(c)].sort()).toEqual(shards.map((shard) => shard.shardId).sort());
    // Settled: the last rounds (more than a steal period) moved nothing.
    expect(new Set(sizes.slice(-6).map((size) => size.join('/'))).size).toBe(1);
  });

  test('When an instance stops renewing, then another takes its leases only after their counters stood still for the lease duration on its own clock, and the paused one, back, is fenced: its checkpoint is refused and it lets the lease go', async () => {
    const { relayState } = await createTestTables();
    const shards: StreamShard[] = [{ shardId: 's1' }];
    const clockA = { t: 0 };
    const clockB = { t: 3_000_000 };
    const a = leasesFor(relayState, clockA, 'a');
    const b = leasesFor(relayState, clockB, 'b');
    await a.offer(ARN, shards);
    await a.renewAll();
    await a.tick();
    const [held] = a.owned();
    expect(held?.shardId).toBe('s1');

    await b.offer(ARN, shards);
    await b.renewAll();
    await b.tick(); // first look: remembers the counter
    clockB.t += LEASE_MS - 1;
    await b.tick();
    expect(ids(b)).toEqual([]);

    // A is paused: on its own clock its validity (80 % of the lease) ran out, so it acts no more.
    clockA.t += LEASE_MS;
    expect(a.holds('s1', held?.term ?? 0)).toBe(false);
    expect(a.retains('s1', held?.term ?? 0)).toBe(true);
    clockB.t += 1;
    await b.tick();
    expect(ids(b)).toEqual(['s1']);

    // Back from the pause: its checkpoint is refused while lapsed, its renewal is refused, it lets go.
    await expect(a.checkpoint('s1', held?.term ?? 0, { shardId: 's1', ended: false })).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    await a.renewAll();
    expect(a.retains('s1', held?.term ?? 0)).toBe(false);
    const [taken] = b.owned();
    expect(b.holds('s1', taken?.term ?? 0)).toBe(true);
    await b.checkpoint('s1', taken?.term ?? 0, { shardId: 's1', sequenceNumber: '42', ended: false });
    expect((await item(relayState, 's1'))?.sequenceNumber).toBe('42');
  });

  test('When a finished shard has not been listed for the cleanup period, then its lease item is deleted; a listed finished shard, an unfinished one and a parent whose child has read nothing keep theirs until that child moves', async () => {
    const { relayState } = await createTestTables();
    const CLEANUP_MS = 60_000;
    const put = (shardId: string, fields: Record<string, unknown>) =>
      doc.send(
        new PutCommand({
          TableName: relayState,
          Item: { ...ShardLeases.keyOf(ARN, shardId), streamArn: ARN, shardId, leaseCounter: 3, ...fields },
        }),
      );
    // Trimmed away after they ended: one with no child left, one whose child has not read anything yet.
    await put('gone-done', { ended: true, sequenceNumber: '90', lastServerTimeMs: 1_700_000_000_000 });
    await put('gone-parent', { ended: true, sequenceNumber: '95', lastServerTimeMs: 1_700_000_100_000 });
    // Ended but still listed (its records are still in the stream).
    await put('listed-done', { ended: true, sequenceNumber: '99' });
    // Started, not finished, no longer listed: its rest must come from the table.
    await put('gone-open', { ended: false, sequenceNumber: '50' });
    const shards: StreamShard[] = [
      { shardId: 'listed-done', endingSequenceNumber: '99' },
      { shardId: 'child', parentShardId: 'gone-parent' },
    ];
    const clock = { t: 0 };
    const a = leasesFor(relayState, clock, 'a', CLEANUP_MS);
    const scanAt = async (t: number) => {
      clock.t = t;
      await a.offer(ARN, shards); // the relay offers a fresh list at every refresh
      await a.renewAll();
      await a.tick();
    };
    const stored = async () =>
      (
        (
          await doc.send(
            new QueryCommand({
              TableName: relayState,
              KeyConditionExpression: 'pk = :pk',
              ExpressionAttributeValues: { ':pk': `STREAM#${ARN}` },
              ConsistentRead: true,
            }),
          )
        ).Items ?? []
      )
        .map((i) => String(i.shardId))
        .sort();

    await scanAt(0);
    await scanAt(CLEANUP_MS - 1);
    expect(await stored()).toEqual(['child', 'gone-done', 'gone-open', 'gone-parent', 'listed-done']);

    await scanAt(CLEANUP_MS);
    expect(await stored()).toEqual(['child', 'gone-open', 'gone-parent', 'listed-done']);
    expect(ids(a)).toEqual(['child', 'gone-open']);

    // The child reads its first records: its parent's position is no longer needed.
    const child = a.owned().find((o) => o.shardId === 'child');
    await a.checkpoint('child', child?.term ?? 0, {
      shardId: 'child',
      parentShardId: 'gone-parent',
      sequenceNumber: '101',
      lastServerTimeMs: 1_700_000_200_000,
      ended: false,
    });
    await scanAt(CLEANUP_MS + 1);
    expect(await stored()).toEqual(['child', 'gone-open', 'listed-done']);
    expect(ids(a)).toEqual(['child', 'gone-open']);
  });

  test('When thirty finished shards are past the cleanup period at once, then a scan deletes at most twenty-five of their items and the next scan the rest', async () => {
    const { relayState } = await createTestTables();
    const CLEANUP_MS = 60_000;
    const old = Array.from({ length: 30 }, (_, i) => `old-${String(i).padStart(2, '0')}`);
    for (const shardId of old) {
      await doc.send(
        new PutCommand({
          TableName: relayState,
          Item: { ...ShardLeases.keyOf(ARN, shardId), streamArn: ARN, shardId, leaseCounter: 1, ended: true },
        }),
      );
    }
    const clock = { t: 0 };
    const a = leasesFor(relayState, clock, 'a', CLEANUP_MS);
    const left = async () =>
      (await queryShardItems(doc, relayState, ARN)).filter((i) => String(i.shardId).startsWith('old-')).length;
    const scanAt = async (t: number) => {
      clock.t = t;
      await a.offer(ARN, [{ shardId: 'open' }]);
      await a.tick();
    };
    await scanAt(0);
    await scanAt(CLEANUP_MS);
    expect(await left()).toBe(5);
    await scanAt(CLEANUP_MS + 250);
    expect(await left()).toBe(0);
  });

  test('When the shard list has not been refreshed for half the cleanup period, then no lease is taken until a fresh list comes', async () => {
    const { relayState } = await createTestTables();
    const clock = { t: 0 };
    const a = leasesFor(relayState, clock, 'a', 60_000);
    await a.offer(ARN, [{ shardId: 's1' }]);
    clock.t = 30_001;
    await a.tick();
    expect(ids(a)).toEqual([]);
    expect(await item(relayState, 's1')).toBeUndefined();

    await a.offer(ARN, [{ shardId: 's1' }]);
    await a.tick();
    expect(ids(a)).toEqual(['s1']);
  });

  test('When an instance’s heartbeat has stood still for the cleanup period, then another deletes it; a beating one stays, and the silent one, back, writes it again', async () => {
    const { relayState } = await createTestTables();
    const CLEANUP_MS = 60_000;
    const shards: StreamShard[] = [{ shardId: 's1' }];
    const clockA = { t: 0 };
    const clockB = { t: 0 };
    const clockC = { t: 0 };
    const a = leasesFor(relayState, clockA, 'a', CLEANUP_MS);
    const b = leasesFor(relayState, clockB, 'b', CLEANUP_MS);
    const c = leasesFor(relayState, clockC, 'c', CLEANUP_MS);
    const heartbeats = async () =>
      (
        (
          await doc.send(
            new QueryCommand({
              TableName: relayState,
              KeyConditionExpression: 'pk = :pk AND begins_with(sk, :instance)',
              ExpressionAttributeValues: { ':pk': 'RELAY#outbox', ':instance': 'INSTANCE#' },
              ConsistentRead: true,
            }),
          )
        ).Items ?? []
      ).length;
    const round = async (t: number, beating: ShardLeases[]) => {
      clockA.t = t;
      clockC.t = t;
      for (const leases of beating) await leases.renewAll();
      await a.offer(ARN, shards);
      await a.tick();
    };
    await b.renewAll(); // b beats once, then goes silent (killed, not stopped)
    await round(0, [a, c]);
    await round(CLEANUP_MS - 1, [a, c]);
    expect(await heartbeats()).toBe(3);

    await round(CLEANUP_MS, [a, c]);
    expect(await heartbeats()).toBe(2);

    await b.renewAll();
    expect(await heartbeats()).toBe(3);
  });
});
