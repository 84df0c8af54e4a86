import { randomUUID } from 'node:crypto';
import { Partitioners, type IHeaders, type Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { createKafka, createLogger, deadLetterTopicFor, EVENT_HEADERS, type OrderEventEnvelope } from '@outbox/shared';
import { scanAll, scrape, testEndpoints, waitFor } from '@outbox/testkit';
import { loadConfig } from '../../src/config';
import { start, type NotifierHandle } from '../../src/start';

const silent = createLogger({ service: 'notifier-test', level: 'silent' });

/** A kafkajs client for test producers and admin calls against the shared broker. */
export function testKafka() {
  return createKafka({ clientId: 'notifier-test', brokers: testEndpoints().kafkaBrokers, logger: silent });
}

/** The one event factory (the testkit's), under the names these tests use. */
export { orderCancelled, orderCreated } from '@outbox/testkit';

/** A Kafka record exactly as the relay would publish the envelope. */
export function recordOf(event: OrderEventEnvelope) {
  const headers: IHeaders = {
    [EVENT_HEADERS.eventId]: event.eventId,
    [EVENT_HEADERS.eventType]: event.eventType,
    [EVENT_HEADERS.seq]: String(event.seq),
    [EVENT_HEADERS.schemaVersion]: String(event.schemaVersion),
    [EVENT_HEADERS.sourceShard]: 'shardId-test',
    [EVENT_HEADERS.sourceSequenceNumber]: '1',
  };
  return { key: event.aggregateId, value: JSON.stringify(event), headers };
}

/** A test producer that sends records one by one, in order. */
export async function testProducer(): Promise<
  Producer & {
    sendTo(topic: string, ...records: { key: string; value: string | Buffer; headers?: IHeaders }[]): Promise<void>;
  }
> {
  const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  return Object.assign(producer, {
    async sendTo(topic: string, ...records: { key: string; value: string | Buffer; headers?: IHeaders }[]) {
      await producer.send({ topic, acks: -1, messages: records });
    },
  });
}

/** The partition kafkajs's default partitioner (the relay's) picks for a key, on a 3-partition topic. */
export function partitionOf(key: string, partitions = 3): number {
  const partitioner = Partitioners.DefaultPartitioner();
  return partitioner({
    topic: 'any',
    partitionMetadata: Array.from({ length: partitions }, (_, id) => ({
      partitionId: id,
      leader: 1,
      partitionErrorCode: 0,
      replicas: [1],
      isr: [1],
    })),
    message: { key, value: null },
  });
}

/** Aggregate ids that all land on one partition (of a 3-partition topic). */
export function samePartitionIds(count: number): string[] {
  const first = randomUUID();
  const ids = [first];
  while (ids.length < count) {
    const id = randomUUID();
    if (partitionOf(id) === partitionOf(first)) ids.push(id);
  }
  return ids;
}

/** Starts an in-process notifier on a test's own table, topic and group. */
export async function startTestNotifier(options: {
  table: string;
  topic: string;
  groupId: string;
  env?: Record<string, string>;
}): Promise<NotifierHandle> {
  const { dynamodb, kafkaBrokers } = testEndpoints();
  const config = loadConfig({
    DYNAMODB_ENDPOINT: dynamodb,
    KAFKA_BROKERS: kafkaBrokers.join(','),
    NOTIFICATIONS_TABLE: options.table,
    ORDER_EVENTS_TOPIC: options.topic,
    NOTIFIER_GROUP_ID: options.groupId,
    PORT: '0',
    LOG_LEVEL: 'silent',
    NOTIFIER_GAP_RECHECK_MS: '100',
    NOTIFIER_RETRY_INITIAL_MS: '50',
    NOTIFIER_RETRY_MAX_MS: '400',
    KAFKA_SESSION_TIMEOUT_MS: '10000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '1000',
    KAFKA_FETCH_MAX_WAIT_MS: '250',
    ...options.env,
  });
  return start(config);
}

/** The value of a metric in the notifier's registry (testkit's `scrape`: exact name and labels), 0 when absent. */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return (await scrape(registry, name, labels)) ?? 0;
}

/** The notification items of one aggregate, by seq. */
export async function notificationsOf(table: string, aggregateId: string) {
  const items = await scanAll(table);
  return items
    .filter((item) => item.pk === `AGGREGATE#${aggregateId}` && String(item.sk).startsWith('NOTIFICATION#'))
    .sort((a, b) => Number(a.seq) - Number(b.seq));
}

/** The aggregate's cursor item. */
export async function cursorOf(table: string, aggregateId: string) {
  return (await scanAll(table)).find((item) => item.pk === `AGGREGATE#${aggregateId}` && item.sk === 'CURSOR');
}

/** Waits until the group committed every partition of `topic` up to its end. */
export async function waitForCommittedToEnd(topic: string, groupId: string, timeoutMs = 30000): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await waitFor(
      async () => {
        const [ends, committed] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId, topics: [topic] }),
        ]);
        const at = new Map(committed[0].partitions.map((p) => [p.partition, p.offset]));
        return ends.every((end) => Number(end.high) === 0 || at.get(end.partition) === end.high);
      },
      { timeoutMs, what: `${groupId} to commit ${topic} to its end` },
    );
  } finally {
    await admin.disconnect();
  }
}

/** Committed offsets of a group on a topic, by partition (-1 when none). */
export async function committedOffsets(topic: string, groupId: string): Promise<Record<number, string>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries(committed[0].partitions.map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

export { deadLetterTopicFor };
