/**
 * Measures the pipeline against the raw limits of the same servers, in the same run:
 *   - order-api POST /orders versus raw three-item DynamoDB transactions (same items, same concurrency);
 *   - outbox-relay publishing versus raw Kafka produce (same batch size, same producer settings);
 *   - end-to-end latency from an event's occurredAt to its arrival in Kafka.
 * Run: `npm run bench` (builds first; starts or reuses the local stack; bounded loops on loopback only).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import {
  createDynamoDbClients,
  createDynamoDbStreamsClient,
  createKafka,
  createLogger,
  topicDefinitions,
  pollUntil as waitFor,
} from '@outbox/shared';
import { ensureTables, ensureTopics, startLocalStack } from '@outbox/local-stack';
import { loadConfig as loadApiConfig } from '../services/order-api/dist/config.js';
import { start as startApi } from '../services/order-api/dist/start.js';
import { loadConfig as loadRelayConfig } from '../services/outbox-relay/dist/config.js';
import { start as startRelay } from '../services/outbox-relay/dist/start.js';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 1500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const RAW_MESSAGES = Number(process.env.BENCH_MESSAGES ?? 5000);
const BATCH = 500;
const quiet = createLogger({ service: 'bench', level: 'silent' });
const suffix = () => `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;

/** Runs `count` calls of `task` with `concurrency` callers; returns calls per second. */
async function rate(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const body = (customerId: string) =>
  JSON.stringify({ customerId, items: [{ productId: 'sku-bench', quantity: 2, price: 12.5 }] });

async function main(): Promise<void> {
  const stack = await startLocalStack({ log: (line) => process.stderr.write(`[local-stack] ${line}\n`) });
  const region = 'us-east-1';
  const { client, doc } = createDynamoDbClients({ region, endpoint: stack.endpoints.dynamodb });
  const kafka = createKafka({ clientId: 'bench', brokers: stack.endpoints.kafkaBrokers, logger: quiet });
  try {
    const raw = await ensureTables({ client, tablePrefix: `bench-raw-${suffix()}-` });
    const tables = await ensureTables({ client, tablePrefix: `bench-${suffix()}-` });
    const topic = `bench-${suffix()}`;
    const rawTopic = `bench-raw-${suffix()}`;
    await ensureTopics({
      brokers: stack.endpoints.kafkaBrokers,
      definitions: [...topicDefinitions({ topic }), ...topicDefinitions({ topic: rawTopic })],
    });
    const customerId = randomUUID();

    // Warm both paths so JIT and connection set-up do not count.
    const warm = async (i: number) => {
      const id = randomUUID();
      await doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: raw.Orders, Item: { pk: `W#${id}`, sk: 'META', i } } },
            { Put: { TableName: raw.Orders, Item: { pk: `W#${id}`, sk: 'ITEM#001', i } } },
            { Put: { TableName: raw.OrderOutbox, Item: { aggregateId: `W#${id}`, seq: 1, i } } },
          ],
        }),
      );
    };
    await rate(100, CONCURRENCY, warm);

    // 1. Raw DynamoDB: the same three puts the API makes per order, with the same payload sizes.
    const rawTx = await rate(ORDERS, CONCURRENCY, async (i) => {
      const id = randomUUID();
      const now = new Date().toISOString();
      await doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: raw.Orders,
                Item: {
                  pk: `ORDER#${id}`,
                  sk: 'META',
                  customerId,
                  status: 'CREATED',
                  totalMinor: 2500,
                  version: 1,
                  createdAt: now,
                  i,
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: raw.Orders,
                Item: { pk: `ORDER#${id}`, sk: 'ITEM#001', productId: 'sku-bench', quantity: 2, unitPriceMinor: 1250 },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: raw.OrderOutbox,
                Item: {
                  aggregateId: id,
                  seq: 1,
                  eventId: randomUUID(),
                  eventType: 'OrderCreated',
                  occurredAt: now,
                  payload: { customerId },
                },
                ConditionExpression: 'attribute_not_exists(aggregateId)',
              },
            },
          ],
        }),
      );
    });

    // 2. The API, in process, over HTTP on loopback.
    const api = await startApi(
      loadApiConfig({
        DYNAMODB_ENDPOINT: stack.endpoints.dynamodb,
        ORDERS_TABLE: tables.Orders,
        OUTBOX_TABLE: tables.OrderOutbox,
        PORT: '0',
        OPS_PORT: '0',
        LOG_LEVEL: 'silent',
      }),
    );
    const post = async () => {
      const response = await fetch(`http://127.0.0.1:${api.port}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body(customerId),
      });
      if (response.status !== 201) throw new Error(`POST /orders answered ${response.status}`);
      await response.arrayBuffer();
    };
    await rate(50, CONCURRENCY, post);
    const apiRate = await rate(ORDERS, CONCURRENCY, post);
    const apiEvents = ORDERS + 50;

    // 3. Raw Kafka produce: batches of the relay's size, idempotent, acks=all, one in flight.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sample = JSON.stringify({
      eventId: randomUUID(),
      eventType: 'OrderCreated',
      payload: { customerId, pad: 'x'.repeat(400) },
    });
    const rawStarted = performance.now();
    for (let sent = 0; sent < RAW_MESSAGES; sent += BATCH) {
      await producer.send({
        topic: rawTopic,
        acks: -1,
        messages: Array.from({ length: Math.min(BATCH, RAW_MESSAGES - sent) }, (_, i) => ({
          key: `agg-${(sent + i) % 997}`,
          value: sample,
        })),
      });
    }
    const rawProduce = RAW_MESSAGES / ((performance.now() - rawStarted) / 1000);
    await producer.disconnect();

    // 3b. Raw stream read: every record of the raw outbox table's stream, GetRecords as fast as it goes.
    const streams = createDynamoDbStreamsClient({ region, endpoint: stack.endpoints.dynamodb });
    const { Table } = await client.send(new DescribeTableCommand({ TableName: raw.OrderOutbox }));
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: Table?.LatestStreamArn }));
    const readStarted = performance.now();
    let streamRecords = 0;
    for (const shard of StreamDescription?.Shards ?? []) {
      let iterator = (
        await streams.send(
          new GetShardIteratorCommand({
            StreamArn: Table?.LatestStreamArn,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      while (iterator) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: BATCH }));
        streamRecords += page.Records?.length ?? 0;
        // An open shard never ends: stop at the first empty page once everything written was read.
        if ((page.Records?.length ?? 0) === 0 && streamRecords >= ORDERS) break;
        iterator = page.NextShardIterator;
      }
    }
    const rawStreamRead = streamRecords / ((performance.now() - readStarted) / 1000);
    streams.destroy();

    // 4. The relay drains the API's backlog; then live latency with orders arriving at a steady pace.
    const arrivals: { at: number; occurredAt: number }[] = [];
    const consumer = kafka.consumer({ groupId: `bench-${suffix()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const envelope = JSON.parse(message.value?.toString() ?? '{}') as { occurredAt: string };
        arrivals.push({ at: Date.now(), occurredAt: Date.parse(envelope.occurredAt) });
      },
    });
    const relay = await startRelay(
      loadRelayConfig({
        DYNAMODB_ENDPOINT: stack.endpoints.dynamodb,
        KAFKA_BROKERS: stack.endpoints.kafkaBrokers.join(','),
        OUTBOX_TABLE: tables.OrderOutbox,
        RELAY_STATE_TABLE: tables.RelayState,
        ORDER_EVENTS_TOPIC: topic,
        PORT: '0',
        LOG_LEVEL: 'silent',
      }),
    );
    await waitFor(() => arrivals.length >= 1, { timeoutMs: 60000, what: 'the first relayed event' });
    const drainStarted = performance.now();
    const drainStartCount = arrivals.length;
    await waitFor(() => arrivals.length >= apiEvents, {
      timeoutMs: 300000,
      intervalMs: 20,
      what: 'the backlog to drain',
    });
    const relayRate = (apiEvents - drainStartCount) / ((performance.now() - drainStarted) / 1000);

    const liveFrom = arrivals.length;
    const LIVE = 200;
    for (let i = 0; i < LIVE; i++) {
      await post();
      await new Promise((resolve) => setTimeout(resolve, 10)); // a steady trickle, not a burst
    }
    await waitFor(() => arrivals.length >= liveFrom + LIVE, { timeoutMs: 60000, what: 'the live events' });
    const latencies = arrivals.slice(liveFrom).map((a) => a.at - a.occurredAt);

    await relay.stop();
    await consumer.disconnect();
    await api.stop();

    const rows = [
      [
        'order-api POST /orders',
        `${apiRate.toFixed(0)} orders/s`,
        `raw TransactWriteItems ${rawTx.toFixed(0)} tx/s`,
        (apiRate / rawTx).toFixed(2),
      ],
      [
        'outbox-relay publish',
        `${relayRate.toFixed(0)} events/s`,
        `raw produce ${rawProduce.toFixed(0)} msg/s`,
        (relayRate / rawProduce).toFixed(2),
      ],
      [
        'outbox-relay publish',
        `${relayRate.toFixed(0)} events/s`,
        `raw stream read ${rawStreamRead.toFixed(0)} records/s`,
        (relayRate / rawStreamRead).toFixed(2),
      ],
    ];
    process.stdout.write(
      [
        `| path | measured | raw limit (same run) | ratio |`,
        `| --- | --- | --- | --- |`,
        ...rows.map((r) => `| ${r.join(' | ')} |`),
        '',
        `End-to-end (occurredAt -> Kafka), ${LIVE} live orders: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms`,
        `(orders=${ORDERS}, concurrency=${CONCURRENCY}, raw messages=${RAW_MESSAGES}, batch=${BATCH}, node ${process.version})`,
        '',
      ].join('\n'),
    );
  } finally {
    client.destroy();
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
