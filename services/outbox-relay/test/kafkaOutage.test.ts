import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { KafkaMessage } from 'kafkajs';
import { createDynamoDbClients, createKafka, createLogger, topicDefinitions } from '@outbox/shared';
import { KafkaServer, ensureTopics } from '@outbox/local-stack';
import { createTestTables, freePort, testEndpoints, uniqueName, waitFor } from '@outbox/testkit';
import { start, type RelayHandle } from '../src/start';
import { checkPerAggregateOrder, scrape, writeOutboxEvent, relayTestConfig } from './support';

describe('Kafka outage (a broker of its own, stopped and restarted)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relay-kafka-'));
  let kafka: KafkaServer;
  let relay: RelayHandle | undefined;
  let lagRelay: RelayHandle | undefined;
  const { dynamodb, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });

  beforeAll(async () => {
    kafka = new KafkaServer({ port: await freePort(), controllerPort: await freePort(), dataDir, stopGraceMs: 10000 });
    await kafka.start();
  }, 120000);
  afterAll(async () => {
    await relay?.stop();
    await lagRelay?.stop();
    await kafka.stop();
    client.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60000);

  test('When Kafka stops and restarts mid-run, then the relay retries with capped backoff, keeps its checkpoint while Kafka is away, and loses nothing', async () => {
    const tables = await createTestTables();
    const topic = uniqueName('orders');
    await ensureTopics({ brokers: kafka.brokers, definitions: topicDefinitions({ topic }) });
    relay = await start(
      relayTestConfig(
        { tables, topic, brokers: kafka.brokers },
        {
          PUBLISH_RETRY_INITIAL_MS: '50',
          PUBLISH_RETRY_MAX_MS: '500',
          POLL_IDLE_MAX_MS: '50',
          BATCH_SIZE: '5',
        },
      ),
    );
    const port = relay.port;
    const aggregates = Array.from({ length: 6 }, () => crypto.randomUUID());
    for (const aggregateId of aggregates) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq: 1 });
    await waitFor(async () => (await scrape(port, 'relay_records_published_total')) === 6, {
      timeoutMs: 30000,
      what: 'the first 6 events published',
    });

    const { Table } = await client.send(new DescribeTableCommand({ TableName: tables.outbox }));
    const streamArn = Table?.LatestStreamArn as string;
    const checkpointItems = async () => {
      const { Items } = await doc.send(
        new QueryCommand({
          TableName: tables.relayState,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `STREAM#${streamArn}` },
          ConsistentRead: true,
        }),
      );
      return (Items ?? []).map((item) => `${item.sk}@${item.sequenceNumber}`).sort();
    };
    // Checkpoints are coalesced (RELAY_CHECKPOINT_INTERVAL_MS): wait until the published batch's is stored.
    await waitFor(async () => (await checkpointItems()).every((item) => !item.endsWith('@undefined')), {
      what: 'the checkpoint of the published events stored',
    });
    const before = await checkpointItems();
    expect(before.length).toBeGreaterThan(0);

    await kafka.stop();
    for (const aggregateId of aggregates) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq: 2 });
    await waitFor(async () => ((await scrape(port, 'relay_publish_failures_total')) ?? 0) >= 3, {
      timeoutMs: 60000,
      what: 'three failed publish rounds while Kafka is down',
    });
    expect(await checkpointItems()).toEqual(before);
    expect(await scrape(port, 'relay_records_published_total')).toBe(6);

    await kafka.start();
    for (const aggregateId of aggregates) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq: 3 });
    await waitFor(async () => ((await scrape(port, 'relay_records_published_total')) ?? 0) >= 18, {
      timeoutMs: 60000,
      what: 'every event published after the restart',
    });
    expect(await checkpointItems()).not.toEqual(before);

    const records = await readAll(kafka.brokers, topic, 18);
    const { problems } = checkPerAggregateOrder(records, new Map(aggregates.map((id) => [id, 3])));
    expect(problems).toEqual([]);
    const { Item } = await doc.send(
      new GetCommand({ TableName: tables.relayState, Key: { pk: `LEASE#${tables.outbox}`, sk: 'LEADER' } }),
    );
    expect(Item?.owner).toBeDefined();
  }, 180000);

  test('When Kafka is down while records are pending, then relay_shard_lag_seconds keeps rising across scrapes and the last progress stands still; after the restart the lag falls to 0 and progress moves on', async () => {
    const tables = await createTestTables();
    const topic = uniqueName('orders');
    await ensureTopics({ brokers: kafka.brokers, definitions: topicDefinitions({ topic }) });
    lagRelay = await start(
      relayTestConfig(
        { tables, topic, brokers: kafka.brokers },
        {
          PUBLISH_RETRY_INITIAL_MS: '50',
          PUBLISH_RETRY_MAX_MS: '500',
          POLL_IDLE_MAX_MS: '50',
          // Long enough that the stall watchdog does not step down during the outage.
          RELAY_STALL_TIMEOUT_MS: '300000',
        },
      ),
    );
    const port = lagRelay.port;
    await writeOutboxEvent(doc, tables.outbox, { seq: 1 });
    await waitFor(
      async () =>
        (await scrape(port, 'relay_records_published_total')) === 1 &&
        (await scrape(port, 'relay_shard_lag_seconds')) === 0,
      { timeoutMs: 30000, what: 'the first event published and the lag at 0 at the tip' },
    );

    await kafka.stop();
    for (let i = 0; i < 3; i += 1) await writeOutboxEvent(doc, tables.outbox, { seq: 1 });
    const readings: number[] = [];
    let progressAtStop = 0;
    for (let i = 0; i < 3; i += 1) {
      // Progress (empty reads at the tip) may move until the new records are read; not after.
      if (i === 1) progressAtStop = (await scrape(port, 'relay_last_progress_timestamp_seconds')) as number;
      await waitFor(
        async () => {
          const lag = (await scrape(port, 'relay_shard_lag_seconds')) ?? 0;
          if (lag <= (readings.at(-1) ?? 0) + 0.5) return false;
          readings.push(lag);
          return true;
        },
        { timeoutMs: 15000, what: `the lag rising past ${readings.at(-1) ?? 0} s while Kafka is down` },
      );
    }
    expect(readings).toHaveLength(3);
    expect(progressAtStop).toBeGreaterThan(0);
    expect(await scrape(port, 'relay_last_progress_timestamp_seconds')).toBe(progressAtStop);
    expect(await scrape(port, 'relay_records_published_total')).toBe(1);

    await kafka.start();
    await waitFor(
      async () =>
        (await scrape(port, 'relay_records_published_total')) === 4 &&
        (await scrape(port, 'relay_shard_lag_seconds')) === 0,
      { timeoutMs: 60000, what: 'every event published after the restart and the lag back at 0' },
    );
    expect((await scrape(port, 'relay_last_progress_timestamp_seconds')) ?? 0).toBeGreaterThan(progressAtStop);
  }, 180000);
});

/** Reads a topic from the beginning until `count` distinct events arrived. */
async function readAll(brokers: string[], topic: string, count: number) {
  const kafka = createKafka({
    clientId: 'test-reader',
    brokers,
    logger: createLogger({ service: 'test', level: 'silent' }),
  });
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const records: { partition: number; key: string | null; value: string | null }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
      records.push({ partition, key: message.key?.toString() ?? null, value: message.value?.toString() ?? null });
    },
  });
  try {
    const distinct = () => new Set(records.map((r) => `${r.key}/${JSON.parse(r.value ?? '{}').seq}`)).size;
    await waitFor(() => distinct() >= count, { timeoutMs: 30000, what: `${count} events on ${topic}` });
    return records;
  } finally {
    await consumer.disconnect();
  }
}
