import { randomUUID } from 'node:crypto';
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClients, deadLetterTopicFor } from '@outbox/shared';
import { createTestTables, createTestTopic, readTopic, testEndpoints, waitFor } from '@outbox/testkit';
import { start, type RelayHandle } from '../src/start';
import { scrape, writeOutboxEvent, relayTestConfig } from './support';

describe('what the relay does with each kind of record, and the metrics it keeps', () => {
  const { dynamodb, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  let relay: RelayHandle | undefined;
  afterAll(async () => {
    await relay?.stop();
    client.destroy();
  });

  test('When INSERT, MODIFY, REMOVE and an invalid item arrive, then only valid INSERTs are published, MODIFY and REMOVE are counted and ignored, the invalid item goes to the dead-letter topic with its reason without blocking the shard, and every metric says so', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    relay = await start(
      relayTestConfig(
        { tables, topic },
        {
          POLL_IDLE_MAX_MS: '50',
        },
      ),
    );
    const port = relay.port;
    const events = await readTopic(topic);
    const letters = await readTopic(deadLetterTopicFor(topic));
    try {
      const first = await writeOutboxEvent(doc, tables.outbox, {
        occurredAt: new Date(Date.now() - 2000).toISOString(),
      });
      const badId = randomUUID();
      await doc.send(
        new PutCommand({ TableName: tables.outbox, Item: { aggregateId: badId, seq: 1, eventType: 'OrderCreated' } }),
      );
      await doc.send(
        new UpdateCommand({
          TableName: tables.outbox,
          Key: { aggregateId: first.aggregateId, seq: 1 },
          UpdateExpression: 'SET expiresAt = :e',
          ExpressionAttributeValues: { ':e': 1 },
        }),
      );
      await doc.send(new DeleteCommand({ TableName: tables.outbox, Key: { aggregateId: first.aggregateId, seq: 1 } }));
      const last = await writeOutboxEvent(doc, tables.outbox);

      const published = await events.waitForCount(2);
      // Two aggregates may land on two partitions, which a reader sees in any interleaving.
      expect(published.map((r) => r.key).sort()).toEqual([first.aggregateId, last.aggregateId].sort());
      const [letter] = await letters.waitForCount(1);
      expect(letter.key).toBe(badId);
      expect(letter.headers['error-code']).toBe('event.invalid_envelope');
      expect(letter.headers['source-shard']).toMatch(/^shardId-/);

      await waitFor(async () => (await scrape(port, 'relay_records_read_total')) === 5, { what: 'five records read' });
      const metric = (name: string, labels?: Record<string, string>) => scrape(port, name, labels);
      expect(await metric('relay_records_read_total', { event_name: 'INSERT' })).toBe(3);
      expect(await metric('relay_records_read_total', { event_name: 'MODIFY' })).toBe(1);
      expect(await metric('relay_records_read_total', { event_name: 'REMOVE' })).toBe(1);
      expect(await metric('relay_records_published_total', { event_type: 'OrderCreated' })).toBe(2);
      expect(await metric('relay_records_ignored_total', { event_name: 'MODIFY' })).toBe(1);
      expect(await metric('relay_records_ignored_total', { event_name: 'REMOVE' })).toBe(1);
      expect(await metric('relay_records_dead_lettered_total', { reason: 'event.invalid_envelope' })).toBe(1);
      expect(await metric('relay_publish_duration_seconds_count')).toBeGreaterThanOrEqual(1);
      expect(await metric('relay_batch_size_records_sum')).toBe(5);
      // Checkpoints are coalesced: stored within RELAY_CHECKPOINT_INTERVAL_MS of the batch.
      await waitFor(async () => ((await metric('relay_checkpoint_writes_total', { outcome: 'ok' })) ?? 0) >= 1, {
        what: 'the coalesced checkpoint stored',
      });
      expect(await metric('relay_shards_owned')).toBe(1);
      expect(await metric('relay_checkpoint_writes_total', { outcome: 'fenced' })).toBeUndefined();
      expect(await metric('relay_leader')).toBe(1);
      expect(await metric('relay_lease_acquisitions_total')).toBe(1);
      expect(await metric('relay_lease_losses_total')).toBeUndefined();
      expect(await metric('relay_publish_failures_total')).toBe(0);
      const lag = await metric('relay_shard_lag_seconds');
      expect(lag).toBeGreaterThanOrEqual(0);
      expect(lag).toBeLessThan(60);
    } finally {
      await events.stop();
      await letters.stop();
    }
  });
});
