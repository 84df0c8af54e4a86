import { randomUUID } from 'node:crypto';
import type { Kafka, Producer, ProducerConfig } from 'kafkajs';
import { createDynamoDbClients } from '@outbox/shared';
import { waitFor } from '@outbox/testkit';
import { createTestTables, createTestTopic, testEndpoints } from '@outbox/testkit';
import { readTopic } from '@outbox/testkit';
import type { ChangeSource, RecordBatch } from '../src/source/StreamShard';
import { start, type RelayHandle } from '../src/start';
import { checkPerAggregateOrder, relayTestConfig, writeOutboxEvent } from './support';

describe('read-ahead over DynamoDB Local and Kafka', () => {
  const { dynamodb, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  let relay: RelayHandle | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });
  afterAll(() => client.destroy());

  test('When the first publish is held (held publisher: a producer wrapper that holds the send), then the stream read of the next batch is issued before that publish resolves, and every event still arrives once in order', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const aggregateId = randomUUID();
    for (let seq = 1; seq <= 3; seq += 1) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq });

    // The held publisher: the first send waits until the test releases it.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let sendsStarted = 0;
    let sendsResolved = 0;
    const wrapKafka = (kafka: Kafka): Kafka => {
      const producer = (config?: ProducerConfig): Producer => {
        const real = kafka.producer(config);
        const sendBatch: Producer['sendBatch'] = async (batch) => {
          sendsStarted += 1;
          if (sendsStarted === 1) await gate;
          const result = await real.sendBatch(batch);
          sendsResolved += 1;
          return result;
        };
        return Object.assign(Object.create(real) as Producer, { sendBatch });
      };
      return Object.assign(Object.create(kafka) as Kafka, { producer });
    };
    // Every read that reaches DynamoDB Streams, with how many sends had resolved when it was issued.
    const reads: { iterator: string; sendsResolved: number; batch?: RecordBatch }[] = [];
    const wrapSource = (source: ChangeSource): ChangeSource =>
      Object.assign(Object.create(source) as ChangeSource, {
        read: async (shardId: string, iterator: string, limit: number) => {
          const entry: (typeof reads)[number] = { iterator, sendsResolved };
          reads.push(entry);
          entry.batch = await source.read(shardId, iterator, limit);
          return entry.batch;
        },
      });

    const reader = await readTopic(topic);
    try {
      relay = await start(relayTestConfig({ tables, topic }, { BATCH_SIZE: '1' }), { wrapKafka, wrapSource });
      await waitFor(() => sendsStarted === 1, { timeoutMs: 20000, what: 'the first publish to be held' });
      const first = reads.find((read) => (read.batch?.records.length ?? 0) > 0);
      expect(first?.batch?.records.map((r) => r.newImage?.seq)).toEqual([1]);
      // The next batch's read goes out while the first publish is still held.
      await waitFor(() => reads.some((read) => read.iterator === first?.batch?.nextIterator), {
        timeoutMs: 10000,
        what: 'the read of the next batch while the publish is held',
      });
      expect(sendsResolved).toBe(0);
      expect(reads.find((read) => read.iterator === first?.batch?.nextIterator)?.sendsResolved).toBe(0);

      release();
      const records = await reader.waitForCount(3);
      expect(checkPerAggregateOrder(records, new Map([[aggregateId, 3]]))).toEqual({ duplicates: 0, problems: [] });
    } finally {
      release();
      await reader.stop();
    }
  }, 60000);
});
