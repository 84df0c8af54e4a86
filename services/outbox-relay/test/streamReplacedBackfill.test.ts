import { DescribeTableCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClients } from '@outbox/shared';
import { createTestTables, createTestTopic, readTopic, testEndpoints, waitFor } from '@outbox/testkit';
import { start, type RelayHandle } from '../src/start';
import { checkPerAggregateOrder, scrape, writeOutboxEvent, relayTestConfig } from './support';

describe('backfill from the outbox table (DynamoDB Local)', () => {
  const { dynamodb, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  let relay: RelayHandle | undefined;
  afterAll(async () => {
    await relay?.stop();
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
      {
        what: 'the table to be ACTIVE',
      },
    );
  };

  test('When the outbox stream is disabled and enabled again, then the events written in between (in neither stream) are backfilled from the table, counted, and published in per-aggregate order', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    relay = await start(
      relayTestConfig(
        { tables, topic },
        {
          SHARD_REFRESH_MS: '200',
          POLL_IDLE_MAX_MS: '50',
          PUBLISH_RETRY_MAX_MS: '200',
          PUBLISH_RETRY_INITIAL_MS: '50',
        },
      ),
    );
    const port = relay.port;
    const reader = await readTopic(topic);
    try {
      const aggregates = Array.from({ length: 4 }, () => crypto.randomUUID());
      const before = (await client.send(new DescribeTableCommand({ TableName: tables.outbox }))).Table?.LatestStreamArn;
      for (const aggregateId of aggregates) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq: 1 });
      await reader.waitForCount(4);

      await setStream(tables.outbox, false);
      for (const aggregateId of aggregates) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq: 2 });
      await setStream(tables.outbox, true);
      const after = (await client.send(new DescribeTableCommand({ TableName: tables.outbox }))).Table?.LatestStreamArn;
      expect(after).toBeDefined();
      expect(after).not.toBe(before);
      for (const aggregateId of aggregates) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq: 3 });

      const distinct = () => new Set(reader.records.map((r) => `${r.key}/${JSON.parse(r.value ?? '{}').seq}`)).size;
      await waitFor(() => distinct() === 12, { timeoutMs: 30000, what: `all 12 events (have ${distinct()})` });
      const records = await reader.readToEnd();
      const { problems } = checkPerAggregateOrder(records, new Map(aggregates.map((id) => [id, 3])));
      expect(problems).toEqual([]);
      const seq2Sources = records.filter((r) => r.headers['event-seq'] === '2').map((r) => r.headers['source-shard']);
      expect(new Set(seq2Sources)).toEqual(new Set(['backfill']));
      // The 4 events in neither stream came from the table (with the overlap, maybe more).
      expect(
        await scrape(port, 'relay_records_backfilled_total', { reason: 'stream_replaced' }),
      ).toBeGreaterThanOrEqual(4);
    } finally {
      await reader.stop();
    }
  });
});
