/**
 * `npm run bench [-- --quick] [--delay-ms <n>] [--relays <n>] [--shards <n>] [--out <dir>]`
 *
 * The whole path measured against the raw limits of the same servers, in one run:
 *   1. order-api POST /orders versus raw three-item TransactWriteItems (same items, same callers);
 *   2. outbox-relay draining a backlog versus raw GetRecords and raw Kafka produce, on the
 *      outbox table's DynamoDB stream (1 shard) and on a Kinesis stream of `--shards` shards
 *      (kinesalite) with 1 … `--relays` relay processes (the scaling ratio);
 *   3. POST → notification stored (the inbox marker's `processedAt`) p50/p95/p99 at 25, 50 and
 *      90 % of the API's measured peak, the first 15 s after a cold start apart;
 *   4. the failover gap: SIGKILL of the leader relay until events reach Kafka again;
 *   5. the RSS of each service process under load (`/proc/<pid>/status` VmRSS).
 * With `--delay-ms`, every DynamoDB, DynamoDB Streams, Kinesis and Kafka call of the services and
 * of the raw baselines goes through a local proxy that adds that round trip (see README.md).
 * Results: stdout (Markdown), `bench/results/<run>/` (result.json, result.md, latency.svg,
 * relays.svg). Targets are checked and printed; the exit code is 0 whenever the run completed.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DeleteTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand as KinesisGetRecordsCommand,
  GetShardIteratorCommand as KinesisGetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import {
  BatchWriteCommand,
  ScanCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Admin } from 'kafkajs';
import {
  createDynamoDbClients,
  createDynamoDbStreamsClient,
  createKafka,
  createKinesisClient,
  createLogger,
  topicDefinitions,
  pollUntil as waitFor,
} from '@outbox/shared';
import { KafkaServer, KinesaliteServer, ensureTables, ensureTopics, startLocalStack } from '@outbox/local-stack';
import { loadConfig as loadRelayConfig } from '../services/outbox-relay/dist/config.js';
import { startDelayProxy } from './delayProxy.ts';
import { lineChart } from './plot.ts';
import { Progress } from './progress.ts';
import { freePort, onInterrupt, startService, type ServiceProcess } from './serviceProcess.ts';

const USAGE = `Usage: npm run bench -- [--quick] [--delay-ms <ms added per call, default 0>] [--relays <max relay processes, default 3>] [--shards <Kinesis shards, default 8>] [--out <folder, default bench/results>]`;
const REGION = 'us-east-1';
const CONCURRENCY = 8;
const BATCH = 500;
/** The window after the services' cold start that is reported apart from the steady state. */
const COLD_S = 15;
const LOAD_LEVELS = [0.25, 0.5, 0.9];
const quiet = createLogger({ service: 'bench', level: 'silent' });
const suffix = () => `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The relay as the bench runs it: its defaults (the failover gap depends on the lease). */
const relayDefaults = loadRelayConfig({});

interface BenchOptions {
  quick: boolean;
  delayMs: number;
  relays: number;
  shards: number;
  out: string;
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      'delay-ms': { type: 'string', default: '0' },
      relays: { type: 'string', default: '3' },
      shards: { type: 'string', default: '8' },
      out: { type: 'string', default: join(import.meta.dirname, 'results') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const delayMs = Number(values['delay-ms']);
  const relays = Number(values.relays);
  const shards = Number(values.shards);
  const problems = [
    ...(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= 1000
      ? []
      : ['--delay-ms must be a number in [0, 1000]']),
    ...(Number.isInteger(relays) && relays >= 1 && relays <= 8 ? [] : ['--relays must be an integer in [1, 8]']),
    // The bench's own kinesalite keeps its default account limit of 10 shards.
    ...(Number.isInteger(shards) && shards >= 1 && shards <= 10 ? [] : ['--shards must be an integer in [1, 10]']),
  ];
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n${USAGE}\n`);
    process.exit(2);
  }
  return { quick: values.quick, delayMs, relays, shards, out: values.out };
}

/** How much work each phase does: `--quick` is a short smoke run, the default a steadier one. */
function sizesFor(quick: boolean) {
  return quick
    ? { orders: 300, backlog: 3000, produce: 3000, kinesisRecords: 3000, levelS: 8, failoverLoadS: 3 }
    : { orders: 1500, backlog: 10000, produce: 10000, kinesisRecords: 20000, levelS: 30, failoverLoadS: 5 };
}

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
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** A service's resident set size in MB, from `/proc/<pid>/status` (undefined once it is gone). */
function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples the RSS of every watched service process once a second and keeps each kind's peak. */
class RssSampler {
  private readonly watched = new Map<ServiceProcess, string>();
  readonly peakMb = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  watch(kind: string, service: ServiceProcess): ServiceProcess {
    this.watched.set(service, kind);
    return service;
  }

  /** Stops sampling a process that is about to end (its pid may be reused later). */
  unwatch(service: ServiceProcess): void {
    this.watched.delete(service);
  }

  sample(): void {
    for (const [service, kind] of this.watched) {
      const mb = rssMb(service.child.pid);
      if (mb === undefined) continue;
      this.peakMb.set(kind, Math.max(this.peakMb.get(kind) ?? 0, mb));
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The sum of a metric's samples on a service's `/metrics` (label filter as a substring). */
async function metric(service: ServiceProcess, name: string, labels = ''): Promise<number | undefined> {
  const response = await fetch(`http://127.0.0.1:${service.opsPort}/metrics`, {
    signal: AbortSignal.timeout(2000),
  }).catch(() => undefined);
  if (response?.status !== 200) return undefined;
  let sum: number | undefined;
  for (const line of (await response.text()).split('\n')) {
    const match = /^(\w+)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match?.[1] !== name || !(match[2] ?? '').includes(labels)) continue;
    sum = (sum ?? 0) + Number(match[3]);
  }
  return sum;
}

/** Records on a topic: the sum of its partitions' high watermarks. */
async function topicEnd(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
}

/**
 * Waits until `total` records are on `topic` and returns the drain rate from the first record
 * seen to the last (so process start and lease acquisition do not count).
 */
async function measureDrain(
  admin: Admin,
  topic: string,
  total: number,
  onProgress: (done: number) => void,
): Promise<number> {
  let first: { at: number; count: number } | undefined;
  let last = 0;
  await waitFor(
    async () => {
      last = await topicEnd(admin, topic);
      onProgress(last);
      if (last > 0 && first === undefined) first = { at: performance.now(), count: last };
      return last >= total;
    },
    { timeoutMs: 600_000, intervalMs: 50, what: `${total} records on ${topic} (have ${last})` },
  );
  const seconds = (performance.now() - first!.at) / 1000;
  return seconds > 0 ? (total - first!.count) / seconds : Number.NaN;
}

/** An outbox event item as the API writes it (same attributes, same payload size). */
function outboxItem(id: string, customerId: string, now: string) {
  return {
    aggregateId: id,
    seq: 1,
    eventId: randomUUID(),
    eventType: 'OrderCreated',
    schemaVersion: 1,
    aggregateType: 'Order',
    occurredAt: now,
    payload: { orderId: id, customerId, status: 'CREATED', totalMinor: 2500, currency: 'EUR' },
  };
}

/** Writes `count` outbox events straight into a table (BatchWriteItem, 4 callers): a backlog for the relay. */
async function writeBacklog(
  doc: DynamoDBDocumentClient,
  table: string,
  count: number,
  onProgress: (n: number) => void,
) {
  let written = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        const size = Math.min(25, count - next);
        next += size;
        const now = new Date().toISOString();
        let items: Record<string, unknown>[] = Array.from({ length: size }, () =>
          outboxItem(randomUUID(), randomUUID(), now),
        );
        while (items.length > 0) {
          const { UnprocessedItems } = await doc.send(
            new BatchWriteCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } }),
          );
          items = (UnprocessedItems?.[table] ?? []).flatMap((request) =>
            request.PutRequest?.Item ? [request.PutRequest.Item] : [],
          );
        }
        onProgress((written += size));
      }
    }),
  );
}

/** The three puts the API makes per order, with the same payload sizes. */
function rawOrderTransaction(tables: Record<string, string>, customerId: string) {
  const id = randomUUID();
  const now = new Date().toISOString();
  return new TransactWriteCommand({
    TransactItems: [
      {
        Put: {
          TableName: tables.Orders,
          Item: {
            pk: `ORDER#${id}`,
            sk: 'META',
            customerId,
            status: 'CREATED',
            totalMinor: 2500,
            version: 1,
            createdAt: now,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: tables.Orders,
          Item: { pk: `ORDER#${id}`, sk: 'ITEM#001', productId: 'sku-bench', quantity: 2, unitPriceMinor: 1250 },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: tables.OrderOutbox,
          Item: outboxItem(id, customerId, now),
          ConditionExpression: 'attribute_not_exists(aggregateId)',
        },
      },
    ],
  });
}

/** A change as DynamoDB's Kinesis streaming destination writes it (the relay's Kinesis source reads these). */
function destinationRecord(aggregateId: string) {
  const item = {
    eventId: randomUUID(),
    eventType: 'OrderCreated',
    schemaVersion: 1,
    aggregateType: 'Order',
    aggregateId,
    seq: 1,
    occurredAt: new Date().toISOString(),
    payload: { orderId: aggregateId, customerId: randomUUID(), status: 'CREATED', totalMinor: 2500, currency: 'EUR' },
    expiresAt: Math.floor(Date.now() / 1000) + 86400,
  };
  const data = {
    awsRegion: REGION,
    eventID: randomUUID(),
    eventName: 'INSERT',
    userIdentity: null,
    recordFormat: 'application/json',
    tableName: 'OrderOutbox',
    dynamodb: {
      ApproximateCreationDateTime: Date.now(),
      Keys: marshall({ aggregateId, seq: 1 }),
      NewImage: marshall(item),
      SizeBytes: 400,
      ApproximateCreationDateTimePrecision: 'MILLISECOND',
    },
    eventSource: 'aws:dynamodb',
  };
  return { Data: new TextEncoder().encode(JSON.stringify(data)), PartitionKey: aggregateId };
}

/** Reads every record of a DynamoDB stream's shards with GetRecords as fast as it goes; records per second. */
async function rawStreamRead(client: DynamoDBClient, endpoint: string, table: string, expected: number) {
  const streams = createDynamoDbStreamsClient({ region: REGION, endpoint, requestTimeoutMs: 60_000, maxAttempts: 5 });
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: Table?.LatestStreamArn }));
    const shards = StreamDescription?.Shards ?? [];
    const started = performance.now();
    let records = 0;
    for (const shard of shards) {
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
        records += page.Records?.length ?? 0;
        // An open shard never ends: stop at the first empty page once everything written was read.
        if ((page.Records?.length ?? 0) === 0 && records >= expected) break;
        iterator = page.NextShardIterator;
      }
    }
    return { rate: records / ((performance.now() - started) / 1000), shards: shards.length };
  } finally {
    streams.destroy();
  }
}

/** Reads every shard of a Kinesis stream at once (one reader per shard) to its tip; records per second. */
async function rawKinesisRead(kinesis: KinesisClient, streamName: string): Promise<number> {
  const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const started = performance.now();
  const counts = await Promise.all(
    (Shards ?? []).map(async (shard) => {
      let iterator = (
        await kinesis.send(
          new KinesisGetShardIteratorCommand({
            StreamName: streamName,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      let records = 0;
      while (iterator) {
        const page = await kinesis.send(new KinesisGetRecordsCommand({ ShardIterator: iterator, Limit: BATCH }));
        records += page.Records?.length ?? 0;
        if ((page.Records?.length ?? 0) === 0) break;
        iterator = page.NextShardIterator;
      }
      return records;
    }),
  );
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000);
}

/** Every inbox marker's `processedAt` by aggregate (seq 1: the order's creation). */
async function processedAtByOrder(doc: DynamoDBDocumentClient, table: string): Promise<Map<string, number>> {
  const byOrder = new Map<string, number>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: table,
        ExclusiveStartKey: startKey,
        FilterExpression: 'begins_with(pk, :inbox)',
        ExpressionAttributeValues: { ':inbox': 'INBOX#' },
      }),
    );
    for (const item of page.Items ?? [])
      if (Number(item.seq) === 1) byOrder.set(String(item.aggregateId), Date.parse(String(item.processedAt)));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return byOrder;
}

interface LatencyRow {
  label: string;
  /** Share of the peak. */
  share: number;
  /** The first seconds after the services' cold start (not part of the steady-state rows). */
  cold: boolean;
  offeredPerS: number;
  achievedPerS: number;
  orders: number;
  notified: number;
  p50: number;
  p95: number;
  p99: number;
}

interface Target {
  name: string;
  measured: string;
  target: string;
  /** undefined: not checked in this mode. */
  pass: boolean | undefined;
}

const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const sizes = sizesFor(options.quick);
  const progress = new Progress();
  const startedAt = new Date();
  const mode = options.delayMs > 0 ? `+${options.delayMs} ms per call` : 'no added delay';
  progress.step('starting', `local stack (${mode}${options.quick ? ', quick' : ''})`);

  const stack = await startLocalStack({ log: (line) => progress.note(`[local-stack] ${line}`) });
  const cleanups: (() => Promise<unknown>)[] = [];
  const services = new Set<ServiceProcess>();
  const rss = new RssSampler();
  const logDir = mkdtempSync(join(tmpdir(), 'outbox-bench-'));
  // Generous timeouts for the bench's own calls: a busy DynamoDB Local is slow, not gone.
  const clientTimeouts = { requestTimeoutMs: 60_000, maxAttempts: 5 };
  const { client, doc } = createDynamoDbClients({
    region: REGION,
    endpoint: stack.endpoints.dynamodb,
    ...clientTimeouts,
  });
  const launch = async (kind: 'order-api' | 'outbox-relay' | 'notifier', name: string, env: Record<string, string>) => {
    const service = await startService(kind, name, env, logDir);
    services.add(service);
    return rss.watch(kind, service);
  };
  const stopAll = async (list: ServiceProcess[]) => {
    rss.sample();
    for (const service of list) rss.unwatch(service);
    await Promise.allSettled(list.map((service) => service.stop()));
    for (const service of list) services.delete(service);
  };

  const runCleanups = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  onInterrupt(async () => {
    await runCleanups();
    await stack.stop();
  });
  try {
    // A kinesalite of the bench's own: its streams count against a 10-shard account limit, which
    // the shared one's tests need.
    const kinesalite = new KinesaliteServer({ port: await freePort(), dataDir: logDir });
    cleanups.push(() => kinesalite.stop());
    await kinesalite.start();
    const directKinesis = createKinesisClient({ region: REGION, endpoint: kinesalite.endpoint, ...clientTimeouts });
    cleanups.push(async () => directKinesis.destroy());
    // Endpoints as the services and the raw baselines see them: through the delay proxies when asked.
    let dynamodbEndpoint = stack.endpoints.dynamodb;
    let kinesisEndpoint = kinesalite.endpoint;
    let brokers = stack.endpoints.kafkaBrokers;
    if (options.delayMs > 0) {
      const proxyFor = async (endpoint: string) => {
        const url = new URL(endpoint);
        const proxy = await startDelayProxy({
          targetHost: url.hostname,
          targetPort: Number(url.port),
          delayMs: options.delayMs,
        });
        cleanups.push(() => proxy.close());
        return `http://${proxy.address}`;
      };
      dynamodbEndpoint = await proxyFor(stack.endpoints.dynamodb);
      kinesisEndpoint = await proxyFor(kinesalite.endpoint);
      brokers = await startDelayedKafka(options.delayMs, logDir, progress, cleanups);
    }
    const { client: benchClient, doc: benchDoc } = createDynamoDbClients({
      region: REGION,
      endpoint: dynamodbEndpoint,
      ...clientTimeouts,
    });
    const kinesis = createKinesisClient({ region: REGION, endpoint: kinesisEndpoint, ...clientTimeouts });
    cleanups.push(async () => {
      benchClient.destroy();
      kinesis.destroy();
    });
    const kafka = createKafka({ clientId: 'bench', brokers, logger: quiet });
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const newTopic = async () => {
      const topic = `bench-${suffix()}`;
      const definitions = topicDefinitions({ topic });
      await ensureTopics({ brokers, definitions });
      cleanups.push(() => admin.deleteTopics({ topics: definitions.map((definition) => definition.topic) }));
      return topic;
    };
    const newTables = async () => {
      const tables = await ensureTables({ client, tablePrefix: `bench-${suffix()}-` });
      // The shared DynamoDB Local slows down as it fills: the bench removes what it made.
      cleanups.push(() =>
        Promise.allSettled(
          Object.values(tables).map((TableName) => client.send(new DeleteTableCommand({ TableName }))),
        ),
      );
      return tables;
    };
    const baseEnv = (tables: Record<string, string>, topic: string): Record<string, string> => ({
      DYNAMODB_ENDPOINT: dynamodbEndpoint,
      KAFKA_BROKERS: brokers.join(','),
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      ORDERS_TABLE: tables.Orders!,
      OUTBOX_TABLE: tables.OrderOutbox!,
      RELAY_STATE_TABLE: tables.RelayState!,
      NOTIFICATIONS_TABLE: tables.Notifications!,
      ORDER_EVENTS_TOPIC: topic,
      NOTIFIER_GROUP_ID: `bench-notifier-${suffix()}`,
    });
    let relayCount = 0;
    const launchRelay = (env: Record<string, string>) => {
      const id = `bench-relay-${++relayCount}`;
      return launch('outbox-relay', `relay-${relayCount}`, { ...env, RELAY_ID: id });
    };
    const customerId = randomUUID();
    const orderBody = JSON.stringify({ customerId, items: [{ productId: 'sku-bench', quantity: 2, price: 12.5 }] });
    const post = async (port: number): Promise<string> => {
      const response = await fetch(`http://127.0.0.1:${port}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: orderBody,
        signal: AbortSignal.timeout(30_000),
      });
      if (response.status !== 201)
        throw new Error(`POST /orders answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { orderId: string }).orderId;
    };

    // 1. Raw DynamoDB transactions and the API over HTTP (same items, same callers), measured in
    // alternating rounds so that drift (DynamoDB Local warming up or filling, other load on the
    // machine) weighs on both alike.
    const raw = await newTables();
    const apiTables = await newTables();
    const apiTopic = await newTopic();
    progress.step('order-api vs raw TransactWriteItems', 'starting order-api');
    const api = await launch('order-api', 'order-api', baseEnv(apiTables, apiTopic));
    const rawCall = async () => void (await benchDoc.send(rawOrderTransaction(raw, customerId)));
    const apiCall = async () => void (await post(api.port));
    await rate(50, CONCURRENCY, rawCall);
    await rate(50, CONCURRENCY, apiCall);
    const ROUNDS = 4;
    const perRound = Math.ceil(sizes.orders / ROUNDS);
    const spent = { raw: 0, api: 0 };
    // A call that fails (a timeout on an overloaded machine) counts as time spent, not as work done.
    const succeeded = { raw: 0, api: 0 };
    const failed = { raw: 0, api: 0 };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [kind, call] of [
        ['raw', rawCall],
        ['api', apiCall],
      ] as const) {
        let done = 0;
        progress.step('order-api vs raw TransactWriteItems', `round ${round}/${ROUNDS}: ${kind}`);
        spent[kind] +=
          perRound /
          (await rate(perRound, CONCURRENCY, async () => {
            await call().then(
              () => succeeded[kind]++,
              () => failed[kind]++,
            );
            progress.update(`round ${round}/${ROUNDS}: ${kind} ${++done}/${perRound}`);
          }));
      }
    }
    const rawTx = succeeded.raw / spent.raw;
    const apiRate = succeeded.api / spent.api;
    if (failed.raw + failed.api > 0)
      progress.note(`failed calls (not counted as done): ${failed.raw} raw transactions, ${failed.api} POSTs`);
    await stopAll([api]);
    progress.note(
      `raw TransactWriteItems ${fmt(rawTx)} tx/s, order-api ${fmt(apiRate)} orders/s (${fmt(apiRate / rawTx, 2)} of raw)`,
    );

    // 2. Raw limits of the relay's two sides: reading the backlog's stream, and Kafka produce.
    const backlogTables = await newTables();
    const backlogTopic = await newTopic();
    progress.step('outbox backlog', `writing ${sizes.backlog} events`);
    await writeBacklog(doc, backlogTables.OrderOutbox!, sizes.backlog, (n) => progress.update(`${n}/${sizes.backlog}`));
    progress.step('raw DynamoDB stream read', `${sizes.backlog} records`);
    const streamRead = await rawStreamRead(client, dynamodbEndpoint, backlogTables.OrderOutbox!, sizes.backlog);
    progress.step('raw Kafka produce', `${sizes.produce} messages, batches of ${BATCH}, idempotent, acks=all`);
    const rawTopic = await newTopic();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sample = JSON.stringify({
      eventId: randomUUID(),
      eventType: 'OrderCreated',
      payload: { customerId, pad: 'x'.repeat(400) },
    });
    const produceStarted = performance.now();
    for (let sent = 0; sent < sizes.produce; sent += BATCH) {
      await producer.send({
        topic: rawTopic,
        acks: -1,
        messages: Array.from({ length: Math.min(BATCH, sizes.produce - sent) }, () => ({
          key: randomUUID(),
          value: sample,
        })),
      });
      progress.update(`${sent + BATCH}/${sizes.produce}`);
    }
    const rawProduce = sizes.produce / ((performance.now() - produceStarted) / 1000);
    await producer.disconnect();
    progress.note(
      `raw stream read ${fmt(streamRead.rate)} records/s (${streamRead.shards} shard), raw produce ${fmt(rawProduce)} msg/s`,
    );

    // 3. One relay drains the backlog from the DynamoDB stream.
    progress.step('relay drain, DynamoDB Streams', `${sizes.backlog} events, 1 relay`);
    const relayDdb = await launchRelay(baseEnv(backlogTables, backlogTopic));
    const ddbDrain = await measureDrain(admin, backlogTopic, sizes.backlog, (n) =>
      progress.update(`${n}/${sizes.backlog} on Kafka`),
    );
    await stopAll([relayDdb]);
    progress.note(`relay drain (DynamoDB Streams, ${streamRead.shards} shard): ${fmt(ddbDrain)} events/s`);

    // 4. A Kinesis stream of `shards` shards: raw read, then 1 … N relay processes draining it.
    const streamName = `bench-${suffix()}`;
    progress.step('Kinesis', `creating ${options.shards} shards, writing ${sizes.kinesisRecords} records`);
    await directKinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: options.shards }));
    cleanups.push(() => directKinesis.send(new DeleteStreamCommand({ StreamName: streamName })).catch(() => undefined));
    await waitFor(
      async () =>
        (await directKinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName })))
          .StreamDescriptionSummary?.StreamStatus === 'ACTIVE',
      { timeoutMs: 60_000, what: `${streamName} to be ACTIVE` },
    );
    for (let put = 0; put < sizes.kinesisRecords; put += BATCH) {
      const records = Array.from({ length: Math.min(BATCH, sizes.kinesisRecords - put) }, () =>
        destinationRecord(randomUUID()),
      );
      const { FailedRecordCount } = await directKinesis.send(
        new PutRecordsCommand({ StreamName: streamName, Records: records }),
      );
      if (FailedRecordCount) throw new Error(`kinesalite refused ${FailedRecordCount} records`);
      progress.update(`${put + records.length}/${sizes.kinesisRecords} written`);
    }
    progress.step('raw Kinesis read', `${options.shards} shards, one reader per shard`);
    const kinesisRead = await rawKinesisRead(kinesis, streamName);
    progress.note(`raw Kinesis read: ${fmt(kinesisRead)} records/s (${options.shards} shards)`);
    const relayCounts = options.quick
      ? [...new Set([1, options.relays])]
      : Array.from({ length: options.relays }, (_, i) => i + 1);
    const scaling: { relays: number; eventsPerS: number }[] = [];
    for (const count of relayCounts) {
      progress.step(`relay drain, Kinesis ${options.shards} shards`, `${count} relay process(es)`);
      const tables = await newTables();
      const topic = await newTopic();
      const env = {
        ...baseEnv(tables, topic),
        RELAY_SOURCE: 'kinesis',
        KINESIS_STREAM_NAME: streamName,
        KINESIS_ENDPOINT: kinesisEndpoint,
      };
      const relays = await Promise.all(Array.from({ length: count }, () => launchRelay(env)));
      const eventsPerS = await measureDrain(admin, topic, sizes.kinesisRecords, (n) =>
        progress.update(`${count} relay(s): ${n}/${sizes.kinesisRecords} on Kafka`),
      );
      await stopAll(relays);
      scaling.push({ relays: count, eventsPerS });
      progress.note(`relay drain (Kinesis ${options.shards} shards, ${count} relay(s)): ${fmt(eventsPerS)} events/s`);
    }

    // 5. POST → notification stored at 25/50/90 % of the API's peak, from a cold start.
    const latencyTables = await newTables();
    const latencyTopic = await newTopic();
    const env = baseEnv(latencyTables, latencyTopic);
    progress.step('latency', 'cold start of order-api, outbox-relay and notifier');
    const [latencyApi, latencyRelay, notifier] = await Promise.all([
      launch('order-api', 'order-api-2', env),
      launchRelay(env),
      launch('notifier', 'notifier', env),
    ]);
    const posted: { orderId: string; at: number; level: number }[] = [];
    let failedPosts = 0;
    /** Open loop: `perS` orders a second for `seconds`, each POST on its own (bounded in flight). */
    const offer = async (perS: number, seconds: number, level: number, label: string) => {
      const began = Date.now();
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; i < perS * seconds; i++) {
        const due = began + (i * 1000) / perS;
        if (due > Date.now()) await sleep(due - Date.now());
        if (inFlight.size >= 256) await Promise.race(inFlight);
        const at = Date.now();
        const work = post(latencyApi.port).then(
          (orderId) => void posted.push({ orderId, at, level }),
          () => void failedPosts++,
        );
        inFlight.add(work);
        void work.finally(() => inFlight.delete(work));
        if (i % 10 === 0) progress.update(`${label}: ${Math.round((Date.now() - began) / 1000)}/${seconds} s`);
      }
      await Promise.allSettled([...inFlight]);
    };
    const coldStart = Date.now();
    for (const [index, share] of LOAD_LEVELS.entries()) {
      const perS = Math.max(1, share * apiRate);
      const seconds = index === 0 ? COLD_S + sizes.levelS : sizes.levelS;
      const label = `${share * 100} % of peak (${fmt(perS)} orders/s)`;
      progress.step('latency', label);
      await offer(perS, seconds, index, label);
    }
    progress.step('latency', `waiting for ${posted.length} notifications`);
    await waitFor(
      async () => {
        const stored = (await metric(notifier, 'notifier_events_processed_total', 'outcome="stored"')) ?? 0;
        progress.update(`${stored}/${posted.length} notifications stored`);
        return stored >= posted.length;
      },
      { timeoutMs: 300_000, intervalMs: 500, what: `${posted.length} notifications` },
    ).catch((error: unknown) => progress.note(`latency: ${String(error)}`));
    const processed = await processedAtByOrder(doc, latencyTables.Notifications!);
    const latencyRows: LatencyRow[] = [];
    const row = (label: string, share: number, cold: boolean, samples: typeof posted, seconds: number): LatencyRow => {
      const latencies = samples.flatMap((s) => {
        const at = processed.get(s.orderId);
        return at === undefined ? [] : [at - s.at];
      });
      return {
        label,
        share,
        cold,
        offeredPerS: share * apiRate,
        achievedPerS: samples.length / seconds,
        orders: samples.length,
        notified: latencies.length,
        p50: percentile(latencies, 50),
        p95: percentile(latencies, 95),
        p99: percentile(latencies, 99),
      };
    };
    const cold = posted.filter((s) => s.at - coldStart < COLD_S * 1000);
    latencyRows.push(row(`cold start: first ${COLD_S} s at 25 % of peak`, LOAD_LEVELS[0]!, true, cold, COLD_S));
    for (const [index, share] of LOAD_LEVELS.entries()) {
      const steady = posted.filter((s) => s.level === index && s.at - coldStart >= COLD_S * 1000);
      latencyRows.push(row(`steady, ${share * 100} % of peak`, share, false, steady, sizes.levelS));
    }
    // The whole path's sustained rate: at 90 % of the API's peak more orders come than the path
    // (two transactions per order: API and notifier) can store notifications for, so the orders of
    // that level notified, over the time from its first POST to the last of their notifications.
    const saturated = posted.filter((s) => s.level === LOAD_LEVELS.length - 1);
    const saturatedDone = saturated.flatMap((s) => processed.get(s.orderId) ?? []);
    const wholePathPerS =
      saturated.length > 0 && saturatedDone.length === saturated.length
        ? saturated.length / ((Math.max(...saturatedDone) - Math.min(...saturated.map((s) => s.at))) / 1000)
        : Number.NaN;

    // 6. Failover: a standby joins, a trickle of orders flows, the leader is SIGKILLed.
    progress.step('failover', 'starting a standby relay');
    const standby = await launchRelay(env);
    const relaysNow = [latencyRelay, standby];
    let trickling = true;
    const trickle = (async () => {
      while (trickling) {
        await post(latencyApi.port).catch(() => undefined);
        await sleep(50);
      }
    })();
    await sleep(sizes.failoverLoadS * 1000);
    let leader: ServiceProcess | undefined;
    await waitFor(
      async () => {
        for (const relay of relaysNow) if ((await metric(relay, 'relay_leader')) === 1) leader = relay;
        return leader !== undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'a leader relay' },
    );
    rss.unwatch(leader!);
    const killedAt = performance.now();
    await leader!.kill();
    services.delete(leader!);
    // Whatever the dead leader had in flight has landed by now; anything later comes from the new leader.
    await sleep(200);
    const baseline = await topicEnd(admin, latencyTopic);
    let flowingAt: number | undefined;
    progress.step('failover', `leader ${leader!.name} SIGKILLed; waiting for events to flow again`);
    await waitFor(
      async () => {
        if ((await topicEnd(admin, latencyTopic)) > baseline) flowingAt = performance.now();
        return flowingAt !== undefined;
      },
      { timeoutMs: 120_000, intervalMs: 20, what: 'events to reach Kafka after the failover' },
    ).catch((error: unknown) => progress.note(`failover: ${String(error)}`));
    trickling = false;
    await trickle;
    const failoverGapMs = flowingAt === undefined ? Number.NaN : flowingAt - killedAt;
    rss.sample();
    await stopAll([...services]);

    // Results.
    const at50 = latencyRows.find((r) => !r.cold && r.share === 0.5)!;
    const rawRelayLimit = Math.min(streamRead.rate, rawProduce);
    const rawKinesisLimit = Math.min(kinesisRead, rawProduce);
    const one = scaling.find((s) => s.relays === 1)?.eventsPerS ?? Number.NaN;
    const many = scaling.find((s) => s.relays === 3)?.eventsPerS ?? Number.NaN;
    const ratioTarget = (name: string, ratio: number, min: number, detail: string, checked = true): Target => ({
      name,
      measured: `${fmt(ratio, 2)} (${detail})`,
      target: `≥ ${min}`,
      pass: checked ? ratio >= min : undefined,
    });
    const targets: Target[] = [
      ratioTarget(
        'order-api orders/s ÷ raw TransactWriteItems/s',
        apiRate / rawTx,
        0.9,
        `${fmt(apiRate)} ÷ ${fmt(rawTx)}`,
      ),
      ratioTarget(
        'POST → notification stored, sustained orders/s ÷ (raw TransactWriteItems/s ÷ 2)',
        wholePathPerS / (rawTx / 2),
        0.8,
        `${fmt(wholePathPerS)} ÷ ${fmt(rawTx / 2)}`,
      ),
      ratioTarget(
        `relay drain ÷ min(raw read, raw produce), DynamoDB Streams ${streamRead.shards} shard, ${mode}`,
        ddbDrain / rawRelayLimit,
        0.8,
        `${fmt(ddbDrain)} ÷ ${fmt(rawRelayLimit)}`,
      ),
      ratioTarget(
        `relay drain ÷ min(raw read, raw produce), Kinesis ${options.shards} shards, 1 relay, ${mode}`,
        one / rawKinesisLimit,
        0.8,
        `${fmt(one)} ÷ ${fmt(rawKinesisLimit)}`,
      ),
      ratioTarget(
        `3 relays ÷ 1 relay, Kinesis ${options.shards} shards${options.delayMs > 0 ? `, ${mode}` : ' (target applies with --delay-ms)'}`,
        many / one,
        2.4,
        `${fmt(many)} ÷ ${fmt(one)}`,
        options.delayMs > 0 && options.shards === 8 && Number.isFinite(many),
      ),
      {
        name: 'POST → notification stored p99 at 50 % of peak',
        measured: `${fmt(at50.p99)} ms`,
        target: '≤ 250 ms',
        pass: Number.isFinite(at50.p99) && at50.notified === at50.orders && at50.p99 <= 250,
      },
      ...['order-api', 'outbox-relay', 'notifier'].map((kind) => {
        const peak = rss.peakMb.get(kind) ?? Number.NaN;
        return {
          name: `${kind} peak RSS under load`,
          measured: `${fmt(peak)} MB`,
          target: '< 150 MB',
          pass: peak < 150,
        };
      }),
    ];
    const result = {
      startedAt: startedAt.toISOString(),
      node: process.version,
      cpus: cpus().length,
      quick: options.quick,
      delayMs: options.delayMs,
      sizes,
      concurrency: CONCURRENCY,
      batch: BATCH,
      rates: {
        rawTransactWriteItemsPerS: rawTx,
        apiOrdersPerS: apiRate,
        wholePathOrdersPerS: wholePathPerS,
        rawDynamoDbStreamReadPerS: streamRead.rate,
        dynamoDbStreamShards: streamRead.shards,
        rawProducePerS: rawProduce,
        relayDrainDynamoDbStreamsPerS: ddbDrain,
        rawKinesisReadPerS: kinesisRead,
        kinesisShards: options.shards,
      },
      scaling,
      latency: latencyRows,
      failedPosts,
      failover: { gapMs: failoverGapMs, leaseDurationMs: relayDefaults.lease.durationMs },
      rssPeakMb: Object.fromEntries(rss.peakMb),
      targets,
    };
    const markdown = formatMarkdown(result, mode);
    const runDir = join(
      options.out,
      `${startedAt.toISOString().replace(/[:.]/g, '-')}${options.quick ? '-quick' : ''}${options.delayMs > 0 ? `-delay${options.delayMs}` : ''}`,
    );
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(runDir, 'result.md'), markdown);
    writeFileSync(
      join(runDir, 'latency.svg'),
      lineChart({
        title: `POST → notification stored (${mode})`,
        xLabel: 'offered load, orders/s',
        yLabel: 'latency, ms',
        threshold: { y: 250, label: 'target p99 at 50 %: 250 ms' },
        series: (['p50', 'p95', 'p99'] as const).map((p) => ({
          name: p,
          points: latencyRows.filter((r) => !r.cold).map((r) => [r.offeredPerS, r[p]]),
        })),
      }),
    );
    writeFileSync(
      join(runDir, 'relays.svg'),
      lineChart({
        title: `Relay drain, Kinesis ${options.shards} shards (${mode})`,
        xLabel: 'relay processes',
        yLabel: 'events/s',
        series: [
          { name: 'measured', points: scaling.map((s) => [s.relays, s.eventsPerS]) },
          { name: 'linear from 1 relay', dashed: true, points: scaling.map((s) => [s.relays, s.relays * one]) },
          { name: 'min(raw read, produce)', dashed: true, points: scaling.map((s) => [s.relays, rawKinesisLimit]) },
        ],
      }),
    );
    progress.done();
    process.stdout.write(`${markdown}\nWritten to ${runDir}\n`);
    rmSync(logDir, { recursive: true, force: true });
  } catch (error) {
    progress.done();
    process.stderr.write(`service logs kept in ${logDir}\n`);
    throw error;
  } finally {
    rss.stop();
    await Promise.allSettled([...services].map((service) => service.stop()));
    await runCleanups();
    client.destroy();
    await stack.stop();
  }
}

/**
 * A Kafka of the bench's own whose advertised listener is the delay proxy's port: Kafka clients
 * connect to the address the broker advertises, so a proxy in front of a normal broker would
 * only see the first metadata request. Returns the brokers list (the proxy).
 */
async function startDelayedKafka(
  delayMs: number,
  dataDir: string,
  progress: Progress,
  cleanups: (() => Promise<unknown>)[],
): Promise<string[]> {
  const server = new KafkaServer({ port: await freePort(), controllerPort: await freePort(), dataDir });
  const proxy = await startDelayProxy({ targetHost: '127.0.0.1', targetPort: server.port, delayMs });
  // KafkaServer advertises the port it listens on and has no option for another one (yet): the
  // bench rewrites that one line of the properties it writes.
  const patched = server as unknown as { serverProperties(logDir: string): string };
  const original = patched.serverProperties.bind(server);
  patched.serverProperties = (logDir) =>
    original(logDir).replace(
      `advertised.listeners=PLAINTEXT://127.0.0.1:${server.port}`,
      `advertised.listeners=PLAINTEXT://${proxy.address}`,
    );
  progress.step(
    'starting',
    `a Kafka of the bench's own on :${server.port}, advertised through the proxy :${proxy.port}`,
  );
  cleanups.push(() => proxy.close());
  cleanups.push(() => server.stop());
  await server.start();
  return [proxy.address];
}

function formatMarkdown(
  result: {
    startedAt: string;
    node: string;
    cpus: number;
    quick: boolean;
    rates: Record<string, number>;
    scaling: { relays: number; eventsPerS: number }[];
    latency: LatencyRow[];
    failedPosts: number;
    failover: { gapMs: number; leaseDurationMs: number };
    rssPeakMb: Record<string, number>;
    targets: Target[];
  },
  mode: string,
): string {
  const r = result.rates;
  const table = (header: string[], rows: string[][]) =>
    [
      `| ${header.join(' | ')} |`,
      `| ${header.map(() => '---').join(' | ')} |`,
      ...rows.map((row) => `| ${row.join(' | ')} |`),
    ].join('\n');
  return [
    `# Bench ${result.startedAt} (${mode}${result.quick ? ', quick' : ''}; node ${result.node}, ${result.cpus} CPUs)`,
    '',
    '## Targets',
    '',
    table(
      ['target', 'measured', 'wanted', 'result'],
      result.targets.map((t) => [
        t.name,
        t.measured,
        t.target,
        t.pass === undefined ? 'not checked' : t.pass ? 'pass' : 'FAIL',
      ]),
    ),
    '',
    '## Throughput against the raw limits (same run)',
    '',
    table(
      ['path', 'measured', 'raw limit', 'ratio'],
      [
        [
          'order-api POST /orders',
          `${fmt(r.apiOrdersPerS!)} orders/s`,
          `TransactWriteItems ${fmt(r.rawTransactWriteItemsPerS!)} tx/s`,
          fmt(r.apiOrdersPerS! / r.rawTransactWriteItemsPerS!, 2),
        ],
        [
          'POST → notification stored, sustained (at 90 % of peak)',
          `${fmt(r.wholePathOrdersPerS!)} orders/s`,
          `TransactWriteItems ${fmt(r.rawTransactWriteItemsPerS!)} tx/s ÷ 2 (API and notifier)`,
          fmt(r.wholePathOrdersPerS! / (r.rawTransactWriteItemsPerS! / 2), 2),
        ],
        [
          `relay, DynamoDB Streams (${r.dynamoDbStreamShards} shard)`,
          `${fmt(r.relayDrainDynamoDbStreamsPerS!)} events/s`,
          `stream read ${fmt(r.rawDynamoDbStreamReadPerS!)}/s, produce ${fmt(r.rawProducePerS!)}/s`,
          fmt(r.relayDrainDynamoDbStreamsPerS! / Math.min(r.rawDynamoDbStreamReadPerS!, r.rawProducePerS!), 2),
        ],
        ...result.scaling.map((s) => [
          `relay × ${s.relays}, Kinesis (${r.kinesisShards} shards)`,
          `${fmt(s.eventsPerS)} events/s`,
          `Kinesis read ${fmt(r.rawKinesisReadPerS!)}/s, produce ${fmt(r.rawProducePerS!)}/s`,
          fmt(s.eventsPerS / Math.min(r.rawKinesisReadPerS!, r.rawProducePerS!), 2),
        ]),
      ],
    ),
    '',
    `Peak used for the load levels: the API's ${fmt(r.apiOrdersPerS!)} orders/s.`,
    '',
    '## POST → notification stored',
    '',
    table(
      ['phase', 'offered orders/s', 'achieved orders/s', 'notified / placed', 'p50 ms', 'p95 ms', 'p99 ms'],
      result.latency.map((l) => [
        l.label,
        fmt(l.offeredPerS, 1),
        fmt(l.achievedPerS, 1),
        `${l.notified} / ${l.orders}`,
        fmt(l.p50),
        fmt(l.p95),
        fmt(l.p99),
      ]),
    ),
    '',
    `Failed POSTs during the latency phases: ${result.failedPosts}.`,
    '',
    '## Failover and memory',
    '',
    `- Failover gap (SIGKILL of the leader relay → the next event on Kafka): ${fmt(result.failover.gapMs)} ms, with the relay's default lease (${result.failover.leaseDurationMs} ms).`,
    ...Object.entries(result.rssPeakMb).map(([kind, mb]) => `- ${kind} peak RSS under load: ${fmt(mb)} MB`),
    '',
  ].join('\n');
}

main().then(
  // Exit now: a client's leftover timer must not keep a finished run alive.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
