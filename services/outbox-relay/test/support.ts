import { DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { BatchWriteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { kinesisDestinationRecord } from '@outbox/local-stack';
import { outboxItem, testEndpoints, type TestTables, uniqueName, waitFor } from '@outbox/testkit';
import { loadConfig, type RelayConfig } from '../src/config';

/** The one event factory (the testkit's): an outbox item the way order-api writes it. */
export { outboxItem } from '@outbox/testkit';

/** Waits until a Kinesis stream (kinesalite) is ACTIVE: after its creation, or a split. */
export function streamActive(kinesis: KinesisClient, name: string): Promise<true> {
  return waitFor(
    async () =>
      (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary
        ?.StreamStatus === 'ACTIVE' || undefined,
    { what: `${name} to be ACTIVE` },
  );
}

/** The settings of a relay reading the kinesalite stream `streamName` (polling again 50 ms after an empty read), with `extra` on top. */
export function kinesisRelayEnv(streamName: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    RELAY_SOURCE: 'kinesis',
    KINESIS_STREAM_NAME: streamName,
    KINESIS_ENDPOINT: testEndpoints().kinesis,
    POLL_IDLE_MAX_MS: '50',
    ...extra,
  };
}

/** A change of one outbox item as DynamoDB's Kinesis streaming destination writes it (a PutRecords entry). */
export function destinationRecord(aggregateId: string, seq: number) {
  return kinesisDestinationRecord(outboxItem({ aggregateId, seq }), { aggregateId, seq });
}

/** Writes one outbox item the way the order-api does. */
export async function writeOutboxEvent(
  doc: DynamoDBDocumentClient,
  table: string,
  event: { aggregateId?: string; seq?: number; occurredAt?: string; payload?: Record<string, unknown> } = {},
): Promise<{ aggregateId: string; seq: number; eventId: string }> {
  const item = outboxItem(event);
  await doc.send(new PutCommand({ TableName: table, Item: item }));
  return { aggregateId: item.aggregateId, seq: item.seq, eventId: item.eventId };
}

/** Writes many outbox items fast: BatchWriteItem, 25 a call, `parallel` calls in flight. */
export async function writeOutboxItems(
  doc: DynamoDBDocumentClient,
  table: string,
  items: Record<string, unknown>[],
  parallel = 8,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      let requests = items.slice(next, next + 25).map((Item) => ({ PutRequest: { Item } }));
      next += 25;
      while (requests.length > 0) {
        const { UnprocessedItems } = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
        requests = (UnprocessedItems?.[table] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** The metrics reader every test uses (Prometheus text, exact name and label matching). */
export { metricValue, scrape } from '@outbox/testkit';

/**
 * Checks per-aggregate order in what a topic holds: every aggregate lives on one partition, and
 * the first delivery of each seq comes in seq order 1..n. Returns how many records were repeats.
 */
export function checkPerAggregateOrder(
  records: { partition: number; key: string | null; value: string | null }[],
  expected: Map<string, number>,
): { duplicates: number; problems: string[] } {
  const problems: string[] = [];
  const byKey = new Map<string, { partitions: Set<number>; seqs: number[] }>();
  for (const record of records) {
    const key = record.key ?? '(null)';
    const entry = byKey.get(key) ?? { partitions: new Set<number>(), seqs: [] };
    entry.partitions.add(record.partition);
    entry.seqs.push((JSON.parse(record.value ?? '{}') as { seq: number }).seq);
    byKey.set(key, entry);
  }
  let duplicates = 0;
  for (const [key, count] of expected) {
    const entry = byKey.get(key);
    if (!entry) {
      problems.push(`${key}: nothing published`);
      continue;
    }
    if (entry.partitions.size !== 1) problems.push(`${key}: on ${entry.partitions.size} partitions`);
    const firsts: number[] = [];
    for (const seq of entry.seqs) {
      if (firsts.includes(seq)) duplicates += 1;
      else firsts.push(seq);
    }
    const want = Array.from({ length: count }, (_, i) => i + 1);
    if (JSON.stringify(firsts) !== JSON.stringify(want)) problems.push(`${key}: first deliveries ${firsts.join(',')}`);
  }
  return { duplicates, problems };
}

/**
 * A relay configuration for one test: its own tables and topic, the local stack's endpoints (or
 * `brokers` of a test's own Kafka), a fresh relay id, any free port, silent logs; then `overrides`.
 */
export function relayTestConfig(
  target: { tables: TestTables; topic: string; brokers?: string[] },
  overrides: Record<string, string> = {},
): RelayConfig {
  const { dynamodb, kafkaBrokers } = testEndpoints();
  return loadConfig({
    DYNAMODB_ENDPOINT: dynamodb,
    KAFKA_BROKERS: (target.brokers ?? kafkaBrokers).join(','),
    OUTBOX_TABLE: target.tables.outbox,
    RELAY_STATE_TABLE: target.tables.relayState,
    ORDER_EVENTS_TOPIC: target.topic,
    PORT: '0',
    LOG_LEVEL: 'silent',
    RELAY_ID: uniqueName('relay'),
    ...overrides,
  });
}
