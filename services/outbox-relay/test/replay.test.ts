import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createDynamoDbClients } from '@outbox/shared';
import { createTestTables, createTestTopic, readTopic, scanAll, testEndpoints, waitFor } from '@outbox/testkit';
import { start, type RelayHandle } from '../src/start';
import type { ReplayReport } from '../src/replay/replayEvents';
import { checkPerAggregateOrder, relayTestConfig, writeOutboxEvent } from './support';

const run = promisify(execFile);
const cli = join(__dirname, '..', 'dist', 'replay', 'replayCli.js');

describe('relay:replay (DynamoDB Local, Kafka; the built CLI as its own process)', () => {
  const { dynamodb, kafkaBrokers, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  let relay: RelayHandle | undefined;
  afterAll(async () => {
    await relay?.stop();
    client.destroy();
  });

  test('When events are replayed from a point in time (dry, into the main topic, and one aggregate into another topic), then each run reports what it sent, sends it in per-aggregate order with source-shard replay, a dry run sends nothing, and the live relay checkpoints do not move', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const other = await createTestTopic();
    relay = await start(relayTestConfig({ tables, topic }, { SHARD_REFRESH_MS: '200', POLL_IDLE_MAX_MS: '50' }));
    const main = await readTopic(topic);
    const side = await readTopic(other);
    try {
      const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
      const [a, b, c] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
      await writeOutboxEvent(doc, tables.outbox, { aggregateId: a, seq: 1, occurredAt: ago(180) });
      await writeOutboxEvent(doc, tables.outbox, { aggregateId: c, seq: 1, occurredAt: ago(170) });
      await writeOutboxEvent(doc, tables.outbox, { aggregateId: a, seq: 2, occurredAt: ago(10) });
      await writeOutboxEvent(doc, tables.outbox, { aggregateId: b, seq: 1, occurredAt: ago(9) });
      await writeOutboxEvent(doc, tables.outbox, { aggregateId: b, seq: 2, occurredAt: ago(8) });
      await main.waitForCount(5);
      const checkpointsNow = async () =>
        (await scanAll(tables.relayState))
          .filter((item) => String(item.sk).startsWith('SHARD#'))
          .map(({ shardId, sequenceNumber, ended, updatedAt }) => ({ shardId, sequenceNumber, ended, updatedAt }));
      const before = await waitFor(async () => {
        const list = await checkpointsNow();
        return list.some((c) => c.sequenceNumber !== undefined) ? list : undefined;
      });

      const replay = async (...args: string[]) => {
        const { stdout } = await run(process.execPath, [cli, ...args], {
          env: {
            ...process.env,
            DYNAMODB_ENDPOINT: dynamodb,
            KAFKA_BROKERS: kafkaBrokers.join(','),
            OUTBOX_TABLE: tables.outbox,
            ORDER_EVENTS_TOPIC: topic,
            LOG_LEVEL: 'warn',
            // Fewer empty future hours to query (the default reads 24 h past now).
            BACKFILL_LOOKAHEAD_HOURS: '1',
          },
        });
        return JSON.parse(stdout) as ReplayReport;
      };
      const from = ago(60);

      const dry = await replay('--from', from, '--dry-run');
      expect(dry).toMatchObject({ topic, dryRun: true, events: 3, byEventType: { OrderCreated: 3 }, skipped: {} });

      const sent = await replay('--from', from);
      expect(sent).toMatchObject({ topic, dryRun: false, events: 3, from: new Date(from).toISOString() });
      // Only the real run reached the topic: 5 relayed + 3 replayed.
      const records = await main.waitForCount(8);
      await expect(main.readToEnd()).resolves.toHaveLength(8);
      const replayed = records.filter((r) => r.headers['source-shard'] === 'replay');
      expect(
        replayed.map((r) => `${r.key === a ? 'a' : r.key === b ? 'b' : 'c'}#${r.headers['event-seq']}`).sort(),
      ).toEqual(['a#2', 'b#1', 'b#2']);
      expect(replayed.filter((r) => r.key === b).map((r) => r.headers['event-seq'])).toEqual(['1', '2']);
      const expected = new Map([
        [a, 2],
        [b, 2],
        [c, 1],
      ]);
      expect(checkPerAggregateOrder(records, expected).problems).toEqual([]);

      const one = await replay('--from', ago(240), '--aggregate', a, '--topic', other);
      expect(one).toMatchObject({ topic: other, aggregateId: a, events: 2, seqs: [1, 2] });
      const sideRecords = await side.waitForCount(2);
      expect(sideRecords.map((r) => [r.key, r.headers['event-seq'], r.headers['source-shard']])).toEqual([
        [a, '1', 'replay'],
        [a, '2', 'replay'],
      ]);

      expect(await checkpointsNow()).toEqual(before);

      await expect(replay('--from', 'yesterday-ish')).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('--from is not a time: yesterday-ish'),
      });
    } finally {
      await main.stop();
      await side.stop();
    }
  }, 180_000);
});
