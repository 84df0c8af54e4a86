import { randomUUID } from 'node:crypto';
import { DescribeTableCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClients } from '@outbox/shared';
import {
  createTestTables,
  createTestTopic,
  readTopic,
  type ServiceProcess,
  startServiceProcess,
  testEndpoints,
  uniqueName,
  waitFor,
} from '@outbox/testkit';
import { checkPerAggregateOrder, outboxItem, scrape, writeOutboxEvent, writeOutboxItems } from './support';

describe('backfill in bounded memory (DynamoDB Local, relay as its own process)', () => {
  const { dynamodb, kafkaBrokers, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  let relay: ServiceProcess | undefined;
  afterAll(async () => {
    await relay?.kill();
    client.destroy();
  });

  const setStream = async (table: string, enabled: boolean) => {
    await client.send(
      new UpdateTableCommand({
        TableName: table,
        StreamSpecification: enabled ? { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' } : { StreamEnabled: false },
      }),
    );
    await waitFor(
      async () => (await client.send(new DescribeTableCommand({ TableName: table }))).Table?.TableStatus === 'ACTIVE',
      { what: 'the table to be ACTIVE' },
    );
  };

  test('When 50,000 outbox events (25,000 orders of 2 events) are in neither stream, then a relay limited to a 128 MB heap backfills every one of them in per-aggregate order', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    relay = await startServiceProcess(
      'outbox-relay',
      {
        DYNAMODB_ENDPOINT: dynamodb,
        KAFKA_BROKERS: kafkaBrokers.join(','),
        OUTBOX_TABLE: tables.outbox,
        RELAY_STATE_TABLE: tables.relayState,
        ORDER_EVENTS_TOPIC: topic,
        RELAY_ID: uniqueName('relay'),
        SHARD_REFRESH_MS: '200',
        POLL_IDLE_MAX_MS: '50',
        LEASE_DURATION_MS: '5000',
        LEASE_RENEW_INTERVAL_MS: '1000',
      },
      ['--max-old-space-size=128'],
    );
    const port = relay.port;
    const reader = await readTopic(topic);
    try {
      const first = await writeOutboxEvent(doc, tables.outbox);
      await reader.waitForCount(1);

      await setStream(tables.outbox, false);
      const aggregates = Array.from({ length: 25_000 }, () => randomUUID());
      const items = aggregates.flatMap((aggregateId) => [1, 2].map((seq) => outboxItem({ aggregateId, seq })));
      await writeOutboxItems(doc, tables.outbox, items, 8);
      items.length = 0;
      await setStream(tables.outbox, true);

      const child = relay.child;
      const output = relay.output;
      await waitFor(
        async () =>
          ((await scrape(port, 'relay_records_backfilled_total', { reason: 'stream_replaced' })) ?? 0) >= 50_000,
        {
          timeoutMs: 240_000,
          intervalMs: 500,
          what: '50,000 backfilled events',
          abortIf: () =>
            child.exitCode === null ? undefined : new Error(`the relay exited (${child.exitCode}): ${output.join('')}`),
        },
      );
      // Every event, the first one perhaps twice (the backfill's overlap reaches back to it).
      const distinct = () => new Set(reader.records.map((r) => `${r.key}/${r.headers['event-seq']}`)).size;
      await waitFor(() => distinct() === 50_001, {
        timeoutMs: 60_000,
        intervalMs: 500,
        what: '50,001 distinct events',
      });
      const records = reader.records;
      const { problems } = checkPerAggregateOrder(
        records,
        new Map([[first.aggregateId, 1], ...aggregates.map((id) => [id, 2] as [string, number])]),
      );
      expect(problems).toEqual([]);
      expect(relay.child.exitCode).toBeNull();
    } finally {
      await reader.stop();
    }
  }, 480_000);
});
