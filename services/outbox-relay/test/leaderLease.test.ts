import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClients, createLogger } from '@outbox/shared';
import { createTestTables, testEndpoints, uniqueName } from '@outbox/testkit';
import { CheckpointStore } from '../src/checkpoint/CheckpointStore';
import { LeaderLease, LeaseLostError } from '../src/lease/LeaderLease';

describe('leader lease and fenced checkpoints (DynamoDB Local, injected monotonic clocks)', () => {
  const { dynamodb, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  const logger = createLogger({ service: 'test', level: 'silent' });
  afterAll(() => client.destroy());

  const leaseFor = (table: string, owner: string, clock: { t: number }) =>
    new LeaderLease({
      doc,
      table,
      leaseName: 'outbox',
      owner,
      leaseDurationMs: 1000,
      renewIntervalMs: 300,
      logger,
      monotonicNow: () => clock.t,
    });

  test('When the leader stops renewing, then a standby takes over only after the counter stood still for the lease duration on its own clock, and the deposed leader steps down and its checkpoint is refused', async () => {
    const { relayState } = await createTestTables();
    const clockA = { t: 0 };
    const clockB = { t: 5_000_000 }; // clocks of two machines share no origin
    const a = leaseFor(relayState, uniqueName('a'), clockA);
    const b = leaseFor(relayState, uniqueName('b'), clockB);
    const checkpoints = new CheckpointStore({ doc, table: relayState, relayName: 'outbox' });

    await a.tick();
    expect(a.isLeader()).toBe(true);
    await a.fenced((fence) =>
      checkpoints.write('arn:test-stream', { shardId: 's1', sequenceNumber: '100', ended: false }, fence),
    );

    await b.tick(); // first look: remembers the counter
    clockB.t += 999;
    await b.tick();
    expect(b.isLeader()).toBe(false);

    // The leader renews: the counter moves, so the standby's wait starts over.
    clockA.t += 300;
    await a.tick();
    clockB.t += 2;
    await b.tick();
    expect(b.isLeader()).toBe(false);

    // The leader goes quiet (a pause, a partition). Before the standby may take over, the
    // leader's own clock says its validity (80 % of the lease) ran out: it stops acting.
    clockA.t += 800;
    expect(a.isLeader()).toBe(false);
    clockB.t += 1000;
    await b.tick();
    expect(b.isLeader()).toBe(true);
    await b.fenced((fence) =>
      checkpoints.write('arn:test-stream', { shardId: 's1', sequenceNumber: '200', ended: false }, fence),
    );

    // A deposed leader whose clock stalled still believes it leads: the fence stops its write.
    clockA.t -= 800;
    expect(a.isLeader()).toBe(true);
    await expect(
      a.fenced((fence) =>
        checkpoints.write('arn:test-stream', { shardId: 's1', sequenceNumber: '150', ended: false }, fence),
      ),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(a.isLeader()).toBe(false);
    expect((await checkpoints.read('arn:test-stream', 's1'))?.sequenceNumber).toBe('200');
  });

  test('When the leader renews on time, then it stays leader and a renewal refused by the table makes it step down', async () => {
    const { relayState } = await createTestTables();
    const clock = { t: 0 };
    const a = leaseFor(relayState, uniqueName('a'), clock);
    await a.tick();
    for (let i = 0; i < 5; i += 1) {
      clock.t += 300;
      await a.tick();
      expect(a.isLeader()).toBe(true);
    }
    const { Item } = await doc.send(new GetCommand({ TableName: relayState, Key: a.key, ConsistentRead: true }));
    expect(Item?.counter).toBe(6);

    // Someone else holds the lease now (forced here by a standby with a far-ahead clock).
    const otherClock = { t: 0 };
    const b = leaseFor(relayState, uniqueName('b'), otherClock);
    await b.tick();
    otherClock.t += 1000;
    await b.tick();
    expect(b.isLeader()).toBe(true);
    clock.t += 300;
    await a.tick();
    expect(a.isLeader()).toBe(false);
    await expect(a.fenced(async () => 'never')).rejects.toBeInstanceOf(LeaseLostError);
  });

  test('When the leader releases the lease, then a standby takes it at its next look without waiting for the lease duration', async () => {
    const { relayState } = await createTestTables();
    const a = leaseFor(relayState, uniqueName('a'), { t: 0 });
    const b = leaseFor(relayState, uniqueName('b'), { t: 0 });
    await a.tick();
    await b.tick();
    expect(b.isLeader()).toBe(false);
    await a.release();
    expect(a.isLeader()).toBe(false);
    await b.tick();
    expect(b.isLeader()).toBe(true);
    await b.release();
  });
});
