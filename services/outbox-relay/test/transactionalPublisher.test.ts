import { randomUUID } from 'node:crypto';
import { createDynamoDbClients, createKafka, createLogger } from '@outbox/shared';
import { createTestTables, createTestTopic, orderCreated, readTopic, testEndpoints, uniqueName } from '@outbox/testkit';
import { KafkaPublisher } from '../src/publish/KafkaPublisher';
import type { OutgoingEvent } from '../src/relay/OutgoingEvent';
import { start } from '../src/start';
import { scrape, writeOutboxEvent, relayTestConfig } from './support';

function event(aggregateId: string, seq: number): OutgoingEvent {
  return {
    envelope: orderCreated(aggregateId, { seq, payload: { orderId: aggregateId } }),
    shardId: 'shardId-test',
    sequenceNumber: String(seq),
  };
}

describe('transactional publishing', () => {
  test('When a second relay publishes with the same transactional id, then Kafka fences the first one and a read_committed reader sees only committed batches', async () => {
    const topic = await createTestTopic();
    const logger = createLogger({ service: 'test', level: 'silent' });
    const kafka = createKafka({
      clientId: 'relay-test',
      brokers: testEndpoints().kafkaBrokers,
      logger,
      retry: { retries: 2 },
    });
    const transactionalId = uniqueName('outbox-relay-tx');
    const deposed = new KafkaPublisher({ kafka, topic, transactionalId, maxRequestBytes: 900_000 });
    const successor = new KafkaPublisher({ kafka, topic, transactionalId, maxRequestBytes: 900_000 });
    const reader = await readTopic(topic);
    try {
      const aggregateId = randomUUID();
      await deposed.publishBatch([event(aggregateId, 1)], []);
      // The successor's first transaction initialises the id and bumps the producer epoch.
      await successor.publishBatch([event(aggregateId, 2)], []);
      await expect(deposed.publishBatch([event(aggregateId, 99)], [])).rejects.toMatchObject({
        code: 'publish.failed',
        retriable: true,
      });

      // Same key, same partition: anything the deposed producer got through would come before 3.
      await successor.publishBatch([event(aggregateId, 3)], []);
      const records = await reader.waitForCount(3);
      expect(records.map((r) => JSON.parse(r.value ?? '{}').seq)).toEqual([1, 2, 3]);
      expect(records.every((r) => r.key === aggregateId)).toBe(true);
    } finally {
      await reader.stop();
      await deposed.disconnect().catch(() => undefined);
      await successor.disconnect();
    }
  });
});

describe('relay in transactional mode', () => {
  test('When KAFKA_TRANSACTIONAL_ID is set, then the relay publishes each batch as a committed transaction that a read_committed reader sees, in per-aggregate order', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const { dynamodb, region } = testEndpoints();
    const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
    const relay = await start(
      relayTestConfig(
        { tables, topic },
        {
          KAFKA_TRANSACTIONAL_ID: uniqueName('outbox-relay-tx'),
        },
      ),
    );
    const reader = await readTopic(topic);
    try {
      const aggregateId = randomUUID();
      for (const seq of [1, 2, 3]) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq });
      const records = await reader.waitForCount(3);
      expect(records.map((r) => JSON.parse(r.value ?? '{}').seq)).toEqual([1, 2, 3]);
      expect(await scrape(relay.port, 'relay_records_published_total')).toBe(3);
    } finally {
      await reader.stop();
      await relay.stop();
      client.destroy();
    }
  });
});
