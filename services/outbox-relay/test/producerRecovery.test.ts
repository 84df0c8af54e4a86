import { randomUUID } from 'node:crypto';
import { KafkaJSProtocolError, type Kafka, type Producer, type ProducerConfig } from 'kafkajs';
import { createDynamoDbClients, createKafka, createLogger } from '@outbox/shared';
import { createTestTables, createTestTopic, readTopic, testEndpoints, uniqueName } from '@outbox/testkit';
import { start, type RelayHandle } from '../src/start';
import { checkPerAggregateOrder, relayTestConfig, writeOutboxEvent } from './support';

describe('producer recovery', () => {
  const { dynamodb, region, kafkaBrokers } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  let relay: RelayHandle | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });
  afterAll(() => client.destroy());

  test('When the idempotent producer hits a fatal OUT_OF_ORDER_SEQUENCE_NUMBER (forced by a producer wrapper injected in the test, failing for good as a real one does), then the relay replaces the producer and every event reaches Kafka in per-aggregate order', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const producers: Producer[] = [];
    // The first producer to send (the aggregate's lane) fails its second send and every send
    // after it, like a producer whose sequence state the broker no longer accepts.
    let failing: Producer | undefined;
    const wrapKafka = (kafka: Kafka): Kafka => {
      const producer = (config?: ProducerConfig): Producer => {
        const real = kafka.producer(config);
        producers.push(real);
        let sends = 0;
        const sendBatch: Producer['sendBatch'] = async (batch) => {
          sends += 1;
          failing ??= real;
          if (failing === real && sends >= 2)
            throw new KafkaJSProtocolError(
              Object.assign(new Error('The broker received an out of order sequence number'), {
                type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
                code: 45,
                retriable: false,
              }),
            );
          return real.sendBatch(batch);
        };
        return Object.assign(Object.create(real) as Producer, { sendBatch });
      };
      return Object.assign(Object.create(kafka) as Kafka, { producer });
    };
    const reader = await readTopic(topic);
    try {
      relay = await start(relayTestConfig({ tables, topic }, { PUBLISH_RETRY_INITIAL_MS: '20' }), { wrapKafka });
      const aggregateId = randomUUID();
      await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq: 1 });
      await reader.waitForCount(1);
      for (let seq = 2; seq <= 5; seq += 1) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq });
      const records = await reader.waitForCount(5);
      expect(checkPerAggregateOrder(records, new Map([[aggregateId, 5]])).problems).toEqual([]);
      // One producer per lane at start, and the failing one replaced.
      expect(producers.length).toBeGreaterThanOrEqual(relayTestConfig({ tables, topic }).kafka.publishLanes + 1);
    } finally {
      await reader.stop();
    }
  });

  test('When another producer takes the relay leader’s transactional id (a real fatal fencing error), then the leader replaces its producer and resumes from its checkpoint with nothing lost or reordered', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const transactionalId = uniqueName('relay-tx');
    const reader = await readTopic(topic);
    const intruder = createKafka({
      clientId: 'intruder',
      brokers: kafkaBrokers,
      logger: createLogger({ service: 'test', level: 'silent' }),
    }).producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    try {
      relay = await start(
        relayTestConfig({ tables, topic }, { KAFKA_TRANSACTIONAL_ID: transactionalId, PUBLISH_RETRY_INITIAL_MS: '20' }),
      );
      const aggregateId = randomUUID();
      await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq: 1 });
      await reader.waitForCount(1);
      // The intruder's init bumps the epoch: the relay's producer is fenced for good.
      await intruder.connect();
      const transaction = await intruder.transaction();
      await transaction.commit();
      for (let seq = 2; seq <= 4; seq += 1) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq });
      const records = await reader.waitForCount(4);
      expect(checkPerAggregateOrder(records, new Map([[aggregateId, 4]])).problems).toEqual([]);
    } finally {
      await intruder.disconnect();
      await reader.stop();
    }
  });
});
