import { randomUUID } from 'node:crypto';
import type { Kafka, Producer, ProducerConfig } from 'kafkajs';
import { createKafka, createLogger } from '@outbox/shared';
import { createTestTopic, testEndpoints } from '@outbox/testkit';
import { readTopic } from '@outbox/testkit';
import { KafkaPublisher } from '../src/publish/KafkaPublisher';
import type { OutgoingEvent } from '../src/relay/OutgoingEvent';
import { checkPerAggregateOrder } from './support';

function event(aggregateId: string, seq: number): OutgoingEvent {
  return {
    envelope: {
      eventId: randomUUID(),
      eventType: 'OrderCreated',
      schemaVersion: 1,
      aggregateType: 'Order',
      aggregateId,
      seq,
      occurredAt: new Date().toISOString(),
      // Large enough that a lane's share of a batch takes several requests under the byte budget.
      payload: { orderId: aggregateId, note: 'x'.repeat(400) },
    },
    shardId: 'shardId-test',
    sequenceNumber: `${aggregateId}-${seq}`,
  };
}

/** The real Kafka client, watched: producers made, and produce calls (sendBatch) in flight at once. */
function watched(kafka: Kafka) {
  const stats = { producers: 0, sends: 0, inFlight: 0, maxInFlight: 0 };
  const producer = (config?: ProducerConfig): Producer => {
    const real = kafka.producer(config);
    stats.producers += 1;
    const sendBatch: Producer['sendBatch'] = async (batch) => {
      stats.sends += 1;
      stats.inFlight += 1;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        return await real.sendBatch(batch);
      } finally {
        stats.inFlight -= 1;
      }
    };
    return Object.assign(Object.create(real) as Producer, { sendBatch });
  };
  return { kafka: Object.assign(Object.create(kafka) as Kafka, { producer }), stats };
}

describe('publishing in lanes (real Kafka)', () => {
  const logger = createLogger({ service: 'test', level: 'silent' });
  const baseKafka = createKafka({ clientId: 'relay-lanes-test', brokers: testEndpoints().kafkaBrokers, logger });

  async function publishAll(lanes: number, keys: number, seqs: number, batchSize: number) {
    const topic = await createTestTopic();
    const { kafka, stats } = watched(baseKafka);
    const publisher = new KafkaPublisher({ kafka, topic, maxRequestBytes: 16_384, lanes });
    const aggregates = Array.from({ length: keys }, () => randomUUID());
    // Interleaved as a stream batch would be: every aggregate's seq 1, then every seq 2, ...
    const events: OutgoingEvent[] = [];
    for (let seq = 1; seq <= seqs; seq += 1) for (const id of aggregates) events.push(event(id, seq));
    const reader = await readTopic(topic);
    try {
      for (let i = 0; i < events.length; i += batchSize) {
        await publisher.publishBatch(events.slice(i, i + batchSize), []);
      }
      const records = await reader.waitForCount(events.length);
      const order = checkPerAggregateOrder(records, new Map(aggregates.map((id) => [id, seqs])));
      return { stats, order, count: records.length, expected: events.length, publisher };
    } finally {
      await reader.stop();
      await publisher.disconnect();
    }
  }

  test('When a batch spans many aggregates and 5 lanes, then up to 5 produce requests are in flight at once (each within the byte budget) and read back every aggregate is complete, once, in seq order', async () => {
    const { stats, order, count, expected, publisher } = await publishAll(5, 60, 10, 300);
    expect(publisher.lanes).toBe(5);
    expect(stats.producers).toBe(5);
    expect(stats.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(stats.maxInFlight).toBeLessThanOrEqual(5);
    // A lane's share of a batch takes several requests one after the other (16 KiB budget).
    expect(stats.sends).toBeGreaterThan(2 * 5);
    expect(order).toEqual({ duplicates: 0, problems: [] });
    expect(count).toBe(expected);
  }, 60000);

  test('When there is one lane, then requests go one after the other and order holds too', async () => {
    const { stats, order } = await publishAll(1, 20, 5, 50);
    expect(stats.producers).toBe(1);
    expect(stats.maxInFlight).toBe(1);
    expect(order).toEqual({ duplicates: 0, problems: [] });
  }, 60000);

  test('When lanes is out of range, then the publisher refuses it clearly', () => {
    expect(() => new KafkaPublisher({ kafka: baseKafka, topic: 't', maxRequestBytes: 16_384, lanes: 6 })).toThrow(
      /lanes must be an integer from 1 to 5, not 6/,
    );
  });
});
