/**
 * `npm run bench [-- --quick] [--delay-ms <n>] [--relays <n>] [--shards <n>] [--out <dir>]`
 *
 * The whole path measured against the raw limits of the same servers, in one run:
 *   1. order-api POST /orders versus raw three-item TransactWriteItems (same items, same callers);
 *   2. POST → notification stored (the inbox marker's `processedAt`) p50/p95/p99 at 25, 50 and
 *      90 % of the path's measured peak, the first 15 s after a cold start apart;
 *   3. outbox-relay draining a backlog versus raw GetRecords, raw Kafka produce and the raw pipe
 *      (both at once), on the outbox table's DynamoDB stream (1 shard) and on Kinesis streams
 *      (kinesalite) of 1 and `--shards` shards, then 1 … `--relays` relay processes (the scaling ratio);
 *   4. the failover gap: SIGKILL of the leader relay until events reach Kafka again;
 *   5. the RSS of each service process under load (`/proc/<pid>/status` VmRSS).
 * With `--delay-ms`, every DynamoDB, DynamoDB Streams, Kinesis and Kafka call of the services and
 * of the raw baselines goes through a local proxy that adds that round trip (see README.md).
 * Results: stdout (Markdown), `bench/results/<run>/` (result.json, result.md, latency.svg,
 * relays.svg). Targets are checked and printed; the exit code is 0 whenever the run completed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
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
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Admin, Producer } from 'kafkajs';
import {
  createDynamoDbClients,
  createDynamoDbStreamsClient,
  createKafka,
  createKinesisClient,
  createLogger,
  outboxTimeIndexKeys,
  topicDefinitions,
  pollUntil as waitFor,
} from '@outbox/shared';
import {
  KafkaServer,
  KinesaliteServer,
  ensureTables,
  ensureTopics,
  kinesisDestinationRecord,
  startLocalStack,
} from '@outbox/local-stack';
import { loadConfig as loadRelayConfig } from '../services/outbox-relay/dist/config.js';
import { readWholeTopic } from './chaos/runChaos.ts';
import { startDelayProxy } from './delayProxy.ts';
import {
  busyShare,
  cpuSeconds,
  createCpuCap,
  machineCpuTicks,
  relayTaskCpus,
  relayTaskVariable,
  type CpuCap,
} from './cpuCap.ts';
import { startOtlpSink, type OtlpSink } from './otlpSink.ts';
import { lineChart } from './plot.ts';
import { Progress } from './progress.ts';
import { freePort, onInterrupt, startService, type ServiceProcess } from './serviceProcess.ts';

/** In the order they run: the two bound by DynamoDB Local first, before the backlogs slow it down. */
const PHASES = ['api', 'latency', 'relay', 'kinesis', 'scaling', 'failover'] as const;
type Phase = (typeof PHASES)[number];

const USAGE = `Usage: npm run bench -- [--quick] [--delay-ms <ms added per call, default 0>] [--relays <max relay processes, default 3>] [--shards <Kinesis shards, default 8>] [--relay-cpu <task | none | CPUs per relay in the scale-out phase, default task: the Copilot manifest's>] [--only <phases, default ${PHASES.join(',')}>] [--out <folder, default bench/results>]`;
const REGION = 'us-east-1';
/** The relay's deployment: its task's CPU and settings are the scale-out phase's. */
const RELAY_MANIFEST = join(import.meta.dirname, '..', 'copilot', 'outbox-relay', 'manifest.yml');
const CONCURRENCY = 8;
const BATCH = 500;
/** The window after the services' cold start that is reported apart from the steady state. */
const COLD_S = 15;
const LOAD_LEVELS = [0.25, 0.5, 0.9];
/** Records each scale-out step drains before it measures (see the scaling phase). */
const SCALING_WARMUP = 3000;
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
  /** vCPU per relay process in the scale-out phase (0: uncapped). */
  relayCpus: number;
  only: Set<Phase>;
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
      'relay-cpu': { type: 'string', default: 'task' },
      only: { type: 'string', default: PHASES.join(',') },
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
  const relayCpus =
    values['relay-cpu'] === 'task'
      ? relayTaskCpus(RELAY_MANIFEST)
      : values['relay-cpu'] === 'none'
        ? 0
        : Number(values['relay-cpu']);
  const only = values.only.split(',').map((phase) => phase.trim());
  const unknown = only.filter((phase) => !(PHASES as readonly string[]).includes(phase));
  const problems = [
    ...(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= 1000
      ? []
      : ['--delay-ms must be a number in [0, 1000]']),
    ...(Number.isInteger(relays) && relays >= 1 && relays <= 8 ? [] : ['--relays must be an integer in [1, 8]']),
    ...(Number.isInteger(shards) && shards >= 1 && shards <= 16 ? [] : ['--shards must be an integer in [1, 16]']),
    ...(Number.isFinite(relayCpus) && relayCpus >= 0 && relayCpus <= 16
      ? []
      : ['--relay-cpu must be task, none or a number of CPUs in (0, 16]']),
    ...(unknown.length === 0 ? [] : [`--only: unknown phase(s) ${unknown.join(', ')}; phases: ${PHASES.join(', ')}`]),
  ];
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n${USAGE}\n`);
    process.exit(2);
  }
  return { quick: values.quick, delayMs, relays, shards, relayCpus, only: new Set(only as Phase[]), out: values.out };
}

/** How much work each phase does: `--quick` is a short smoke run, the default a steadier one. */
function sizesFor(quick: boolean) {
  return quick
    ? {
        orders: 300,
        backlog: 5000,
        produce: 5000,
        kinesisRecords: 8000,
        scalingRecords: 16000,
        levelS: 10,
        failoverLoadS: 3,
      }
    : {
        orders: 1500,
        backlog: 20000,
        produce: 20000,
        kinesisRecords: 30000,
        scalingRecords: 30000,
        levelS: 30,
        failoverLoadS: 5,
      };
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
/**
 * The bench's HTTP client: node:http over kept-alive sockets. It costs the load generator about
 * a third of the CPU per request that `fetch` does (measured here: 0.45 against 1.3 ms), CPU
 * that the API and DynamoDB Local would otherwise lose on the same cores.
 */
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 256 });

function postJson(port: number, path: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: httpAgent,
        timeout: 30_000,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`POST ${path} timed out after 30 s`)));
    request.on('error', reject);
    request.end(body);
  });
}

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
  /** By kind, the phase its peak was sampled in. */
  readonly peakPhase = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;
  private readonly phase: () => string;

  constructor(phase: () => string) {
    this.phase = phase;
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
      if (mb === undefined || mb <= (this.peakMb.get(kind) ?? 0)) continue;
      this.peakMb.set(kind, mb);
      this.peakPhase.set(kind, this.phase());
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

/** A drain's rate, and its rate from a mark on (with the records left to drain then). */
interface DrainTrack {
  ratePerS: number;
  afterMark?: { ratePerS: number; records: number };
}

/**
 * Waits until `total` records more than `base` are on `topic` and returns the drain rate from the
 * first of them seen to the last (so process start and lease acquisition do not count); and the
 * rate from when `mark` resolves (the topic's end read then) to the last record, when the drain
 * had not finished by then.
 */
async function trackDrain(
  admin: Admin,
  topic: string,
  total: number,
  onProgress: (done: number) => void,
  base = 0,
  mark?: Promise<unknown>,
): Promise<DrainTrack> {
  let first: { at: number; count: number } | undefined;
  let marked: { at: number; count: number } | undefined;
  let last = 0;
  void mark?.then(async () => {
    const count = await topicEnd(admin, topic);
    marked = { at: performance.now(), count };
  });
  await waitFor(
    async () => {
      last = await topicEnd(admin, topic);
      onProgress(last - base);
      if (last > base && first === undefined) first = { at: performance.now(), count: last };
      return last >= base + total;
    },
    { timeoutMs: 600_000, intervalMs: 50, what: `${base + total} records on ${topic} (have ${last})` },
  );
  const end = performance.now();
  const rate = (from: { at: number; count: number }) =>
    end > from.at ? (base + total - from.count) / ((end - from.at) / 1000) : Number.NaN;
  const afterMark =
    marked && marked.count < base + total
      ? { ratePerS: rate(marked), records: base + total - marked.count }
      : undefined;
  return { ratePerS: rate(first!), afterMark };
}

/**
 * An order as order-api stores it: the same three items with the same attributes, index keys
 * (`byCustomer`, the outbox's `byHour`), TTL and sizes, for the raw baseline and the backlogs.
 * `checkItemShapes` compares them with what the API wrote in the same run.
 */
function orderItems(orderId: string, customerId: string, now: string) {
  const line = { productId: 'sku-bench', quantity: 2, unitPriceMinor: 1250, lineTotalMinor: 2500 };
  const event = {
    eventId: randomUUID(),
    eventType: 'OrderCreated',
    schemaVersion: 1,
    aggregateType: 'Order',
    aggregateId: orderId,
    seq: 1,
    occurredAt: now,
    traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
    payload: {
      orderId,
      customerId,
      status: 'CREATED',
      currency: 'USD',
      totalMinor: 2500,
      createdAt: now,
      items: [line],
    },
  };
  return {
    meta: {
      pk: `ORDER#${orderId}`,
      sk: 'META',
      orderId,
      customerId,
      status: 'CREATED',
      currency: 'USD',
      totalMinor: 2500,
      itemCount: 1,
      version: 1,
      createdAt: now,
      updatedAt: now,
      gsi1pk: `CUSTOMER#${customerId}`,
      gsi1sk: `${now}#${orderId}`,
    },
    line: { pk: `ORDER#${orderId}`, sk: 'ITEM#001', lineNo: 1, ...line },
    outbox: { ...event, expiresAt: Math.floor(Date.parse(now) / 1000) + 7 * 86400, ...outboxTimeIndexKeys(event) },
  };
}

/** An outbox event item as the API writes it. */
function outboxItem(id: string, customerId: string, now: string) {
  return orderItems(id, customerId, now).outbox;
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

/** The three puts the API makes per order, with the same items and conditions. */
function rawOrderTransaction(tables: Record<string, string>, customerId: string) {
  const items = orderItems(randomUUID(), customerId, new Date().toISOString());
  return new TransactWriteCommand({
    TransactItems: [
      { Put: { TableName: tables.Orders, Item: items.meta, ConditionExpression: 'attribute_not_exists(pk)' } },
      { Put: { TableName: tables.Orders, Item: items.line, ConditionExpression: 'attribute_not_exists(pk)' } },
      {
        Put: {
          TableName: tables.OrderOutbox,
          Item: items.outbox,
          ConditionExpression: 'attribute_not_exists(aggregateId)',
        },
      },
    ],
  });
}

/**
 * The attribute names of each item of one order the API wrote against the raw baseline's: a
 * difference would make the ratio compare different work. Returns the differences (none: []).
 */
async function checkItemShapes(
  doc: DynamoDBDocumentClient,
  apiTables: Record<string, string>,
  apiOrderId: string,
): Promise<string[]> {
  const expected = orderItems(randomUUID(), randomUUID(), new Date().toISOString());
  const { Items: orderItemsStored = [] } = await doc.send(
    new QueryCommand({
      TableName: apiTables.Orders,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `ORDER#${apiOrderId}` },
    }),
  );
  const { Items: outboxStored = [] } = await doc.send(
    new QueryCommand({
      TableName: apiTables.OrderOutbox,
      KeyConditionExpression: 'aggregateId = :id',
      ExpressionAttributeValues: { ':id': apiOrderId },
    }),
  );
  const names = (item: object | undefined) =>
    Object.keys(item ?? {})
      .sort()
      .join(',');
  const pairs: [string, object | undefined, object][] = [
    ['order META', orderItemsStored.find((i) => i.sk === 'META'), expected.meta],
    ['order line', orderItemsStored.find((i) => String(i.sk).startsWith('ITEM#')), expected.line],
    ['outbox event', outboxStored[0], expected.outbox],
    ['event payload', (outboxStored[0] as { payload?: object } | undefined)?.payload, expected.outbox.payload],
  ];
  return pairs.flatMap(([what, api, raw]) =>
    names(api) === names(raw) ? [] : [`${what}: the API wrote [${names(api)}], the raw baseline [${names(raw)}]`],
  );
}

/** A change as DynamoDB's Kinesis streaming destination writes it, of an outbox item as the API writes it. */
function destinationRecord(aggregateId: string) {
  const item = outboxItem(aggregateId, randomUUID(), new Date().toISOString());
  return kinesisDestinationRecord(item, { aggregateId, seq: 1 }, REGION);
}

/** One page of a shard: its records as Kafka messages, and the next iterator. */
interface PipePage {
  messages: { key: string; value: Buffer | string }[];
  next?: string;
}

/**
 * The least any relay must do, run in the bench's own process: each shard is read with one
 * page read ahead, and every page is produced as it is (no decoding, checks, spans, metrics
 * or checkpoints) by one idempotent producer, acks=all, like the raw produce baseline. The
 * ceiling of reading and producing at once on this machine; records per second.
 */
async function rawPipe(
  iterators: (string | undefined)[],
  readPage: (iterator: string) => Promise<PipePage>,
  producer: Producer,
  topic: string,
  onProgress: (done: number) => void,
  expected = 0,
): Promise<number> {
  let done = 0;
  const started = performance.now();
  await Promise.all(
    iterators.map(async (first) => {
      let pending = first ? readPage(first) : undefined;
      while (pending) {
        const page = await pending;
        // An open shard never ends: an empty page is its tip once `expected` records went through
        // (the backlog is written before; DynamoDB Streams may answer empty pages before the end).
        const atTip = page.messages.length === 0 && done >= expected;
        pending = !atTip && page.next ? readPage(page.next) : undefined;
        if (page.messages.length === 0) continue;
        await producer.send({ topic, acks: -1, messages: page.messages });
        onProgress((done += page.messages.length));
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/** The outbox table's stream: a client for it and a TRIM_HORIZON iterator for each shard. */
async function streamIterators(client: DynamoDBClient, endpoint: string, table: string) {
  const streams = createDynamoDbStreamsClient({ region: REGION, endpoint, requestTimeoutMs: 60_000, maxAttempts: 5 });
  const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
  const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: Table?.LatestStreamArn }));
  const iterators = await Promise.all(
    (StreamDescription?.Shards ?? []).map(
      async (shard) =>
        (
          await streams.send(
            new GetShardIteratorCommand({
              StreamArn: Table?.LatestStreamArn,
              ShardId: shard.ShardId,
              ShardIteratorType: 'TRIM_HORIZON',
            }),
          )
        ).ShardIterator,
    ),
  );
  return { streams, iterators };
}

/** Reads every record of a DynamoDB stream's shards with GetRecords as fast as it goes; records per second. */
async function rawStreamRead(client: DynamoDBClient, endpoint: string, table: string, expected: number) {
  const { streams, iterators } = await streamIterators(client, endpoint, table);
  try {
    const started = performance.now();
    let records = 0;
    for (const first of iterators) {
      let iterator = first;
      while (iterator) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: BATCH }));
        records += page.Records?.length ?? 0;
        // An open shard never ends: stop at the first empty page once everything written was read.
        if ((page.Records?.length ?? 0) === 0 && records >= expected) break;
        iterator = page.NextShardIterator;
      }
    }
    return { rate: records / ((performance.now() - started) / 1000), shards: iterators.length };
  } finally {
    streams.destroy();
  }
}

/** {@link rawPipe} from the outbox table's DynamoDB stream: each new image as read, keyed by its aggregate. */
async function rawStreamPipe(
  client: DynamoDBClient,
  endpoint: string,
  table: string,
  producer: Producer,
  topic: string,
  expected: number,
  onProgress: (done: number) => void,
): Promise<number> {
  const { streams, iterators } = await streamIterators(client, endpoint, table);
  try {
    return await rawPipe(
      iterators,
      async (iterator) => {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: BATCH }));
        return {
          messages: (page.Records ?? []).map((record) => ({
            key: record.dynamodb?.Keys?.aggregateId?.S ?? '',
            value: JSON.stringify(record.dynamodb?.NewImage ?? null),
          })),
          next: page.NextShardIterator,
        };
      },
      producer,
      topic,
      onProgress,
      expected,
    );
  } finally {
    streams.destroy();
  }
}

/** A TRIM_HORIZON iterator for each shard of a Kinesis stream. */
async function kinesisIterators(kinesis: KinesisClient, streamName: string): Promise<(string | undefined)[]> {
  const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  return Promise.all(
    (Shards ?? []).map(
      async (shard) =>
        (
          await kinesis.send(
            new KinesisGetShardIteratorCommand({
              StreamName: streamName,
              ShardId: shard.ShardId,
              ShardIteratorType: 'TRIM_HORIZON',
            }),
          )
        ).ShardIterator,
    ),
  );
}

/** Reads every shard of a Kinesis stream at once (one reader per shard) to its tip; records per second. */
async function rawKinesisRead(kinesis: KinesisClient, streamName: string): Promise<number> {
  const iterators = await kinesisIterators(kinesis, streamName);
  const started = performance.now();
  const counts = await Promise.all(
    iterators.map(async (first) => {
      let iterator = first;
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

/** {@link rawPipe} from a Kinesis stream: each record's bytes, keyed by its partition key. */
async function rawKinesisPipe(
  kinesis: KinesisClient,
  streamName: string,
  producer: Producer,
  topic: string,
  onProgress: (done: number) => void,
): Promise<number> {
  return rawPipe(
    await kinesisIterators(kinesis, streamName),
    async (iterator) => {
      const page = await kinesis.send(new KinesisGetRecordsCommand({ ShardIterator: iterator, Limit: BATCH }));
      return {
        messages: (page.Records ?? []).map((record) => ({
          key: record.PartitionKey ?? '',
          value: record.Data ? Buffer.from(record.Data.buffer, record.Data.byteOffset, record.Data.byteLength) : '',
        })),
        next: page.NextShardIterator,
      };
    },
    producer,
    topic,
    onProgress,
  );
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

/** p50 and p99 of one stage of POST → notification stored, in ms. */
interface StageLatency {
  p50: number;
  p99: number;
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
  /**
   * Where the time went, per order: the POST's answer as the bench saw it; the event's
   * `occurredAt` (order-api, before its transaction) to its Kafka timestamp (the relay's send);
   * that to the notifier's `processedAt`. The three overlap (the first two share the commit).
   */
  stages?: { post: StageLatency; toKafka: StageLatency; toNotifier: StageLatency };
}

interface Target {
  name: string;
  measured: string;
  target: string;
  /** undefined: not checked in this mode. */
  pass: boolean | undefined;
}

const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/** What the phases measured; a phase that did not run leaves its fields undefined. */
interface Measured {
  rawTx?: number;
  apiRate?: number;
  itemShapeDifferences?: string[];
  rawProduce?: number;
  streamRead?: { rate: number; shards: number };
  /** {@link rawPipe} on the DynamoDB stream's backlog. */
  ddbPipe?: number;
  ddbDrain?: number;
  /** One relay (uncapped) draining a Kinesis stream of 1 and of `--shards` shards; `pipe`: {@link rawPipe}. */
  kinesis: { shards: number; read: number; pipe: number; drain: number }[];
  scaling: {
    relays: number;
    /**
     * The drain rate once the backlog was written (the writer and kinesalite, busy taking it, no
     * longer share the cores), or `wholeEventsPerS` when less than a quarter was left by then.
     */
    eventsPerS: number;
    /** The drain rate from the first record on Kafka to the last, the writing included. */
    wholeEventsPerS: number;
    /** True when `eventsPerS` is measured from the end of the write. */
    afterWrite: boolean;
    cpus: number;
    writePerS: number;
    balancedMs: number;
    perRelay: { published: number; cpu: number; leaseLosses: number }[];
    /** Share of all the machine's cores busy while `eventsPerS` was measured. */
    machineBusy?: number;
  }[];
  scalingCapNote?: string;
  /** LEASE_DURATION_MS of the scale-out relays (the manifest's, unless set in the environment). */
  scalingLeaseMs?: number;
  latencyRows: LatencyRow[];
  /** Raw transactions measured again just before the latency phase: its load levels' estimate and the path's limit. */
  rawTxBeforeLatency?: number;
  pathPeak?: number;
  failedPosts: number;
  failoverGapMs?: number;
  /** Where the services exported their spans, and what the bench's sink received (when it was the collector). */
  tracing?: {
    collector: string;
    requests?: number;
    spans?: number;
    bytes?: number;
    rejected?: number;
    /** Per kind of service, spans dropped or lost in failed exports ({@link Measured.spansLost}). */
    lost?: Record<string, number>;
  };
  /** Per kind of service, spans its exporter dropped (full queue) or lost in failed exports, read from its metrics before it stops. */
  spansLost: Record<string, number>;
  notes: string[];
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const sizes = sizesFor(options.quick);
  const progress = new Progress();
  const startedAt = new Date();
  const mode = options.delayMs > 0 ? `+${options.delayMs} ms per call` : 'no added delay';
  const runs = (phase: Phase) => options.only.has(phase);
  progress.step('starting', `local stack (${mode}${options.quick ? ', quick' : ''}; ${[...options.only].join(', ')})`);

  const stack = await startLocalStack({ log: (line) => progress.note(`[local-stack] ${line}`) });
  const cleanups: (() => Promise<unknown>)[] = [];
  const services = new Set<ServiceProcess>();
  const rss = new RssSampler(() => progress.current);
  const logDir = mkdtempSync(join(tmpdir(), 'outbox-bench-'));
  // Generous timeouts for the bench's own calls: a busy DynamoDB Local is slow, not gone.
  const clientTimeouts = { requestTimeoutMs: 60_000, maxAttempts: 5 };
  const { client, doc } = createDynamoDbClients({
    region: REGION,
    endpoint: stack.endpoints.dynamodb,
    ...clientTimeouts,
  });
  // Services export their spans as deployed: to the collector given in OTEL_EXPORTER_OTLP_ENDPOINT,
  // or else to a sink of the bench's own standing in for the task's collector sidecar.
  const givenCollector = process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || undefined;
  const sink: OtlpSink | undefined = givenCollector ? undefined : await startOtlpSink();
  if (sink) cleanups.push(() => sink.close());
  const collector = givenCollector ?? sink!.endpoint;
  const kinds = new Map<ServiceProcess, string>();
  const launch = async (kind: 'order-api' | 'outbox-relay' | 'notifier', name: string, env: Record<string, string>) => {
    const service = await startService(kind, name, { OTEL_EXPORTER_OTLP_ENDPOINT: collector, ...env }, logDir);
    services.add(service);
    kinds.set(service, kind);
    return rss.watch(kind, service);
  };
  const stopAll = async (list: ServiceProcess[]) => {
    rss.sample();
    for (const service of list) rss.unwatch(service);
    // Spans lost count as much as spans exported: a sink that got fewer would otherwise go unexplained.
    for (const service of list) {
      const lost = await Promise.all(
        ['outcome="dropped"', 'outcome="failed"'].map((outcome) => metric(service, 'tracing_spans_total', outcome)),
      );
      const kind = kinds.get(service) ?? service.name;
      m.spansLost[kind] = (m.spansLost[kind] ?? 0) + lost.reduce<number>((sum, n) => sum + (n ?? 0), 0);
    }
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
  const m: Measured = { kinesis: [], scaling: [], latencyRows: [], failedPosts: 0, spansLost: {}, notes: [] };
  try {
    // A kinesalite of the bench's own: its streams count against an account shard limit, which
    // the shared one's tests need; this one holds the Kinesis phase's stream and a scale-out one.
    const kinesalite = new KinesaliteServer({
      port: await freePort(),
      dataDir: logDir,
      shardLimit: 2 * options.shards,
    });
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
    /** Runs `work` with an idempotent producer configured as the raw produce baseline's. */
    const withProducer = async <T>(work: (producer: Producer) => Promise<T>): Promise<T> => {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        return await work(producer);
      } finally {
        await producer.disconnect();
      }
    };
    // DynamoDB Local slows down as it fills (a full run's backlogs took it from 110 to 24
    // transactions/s): each phase deletes the tables it made when it ends, and the run at its end.
    const madeTables: string[] = [];
    const dropTables = async () => {
      await Promise.allSettled(
        madeTables.splice(0).map((TableName) => client.send(new DeleteTableCommand({ TableName }))),
      );
    };
    cleanups.push(dropTables);
    const newTables = async () => {
      const tables = await ensureTables({ client, tablePrefix: `bench-${suffix()}-` });
      madeTables.push(...Object.values(tables));
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
      const { status, text } = await postJson(port, '/orders', orderBody);
      if (status !== 201) throw new Error(`POST /orders answered ${status}: ${text}`);
      return (JSON.parse(text) as { orderId: string }).orderId;
    };
    // 1. Raw DynamoDB transactions and the API over HTTP (same items, same callers), measured in
    // alternating rounds so that drift (DynamoDB Local warming up or filling, other load on the
    // machine) weighs on both alike.
    if (runs('api')) {
      const rawTables = await newTables();
      const rawCall = async () => void (await benchDoc.send(rawOrderTransaction(rawTables, customerId)));
      const apiTables = await newTables();
      const apiTopic = await newTopic();
      progress.step('order-api vs raw TransactWriteItems', 'starting order-api');
      const api = await launch('order-api', 'order-api', baseEnv(apiTables, apiTopic));
      const apiCall = async () => void (await post(api.port));
      await rate(50, CONCURRENCY, rawCall);
      await rate(50, CONCURRENCY, apiCall);
      m.itemShapeDifferences = await checkItemShapes(doc, apiTables, await post(api.port));
      for (const difference of m.itemShapeDifferences) progress.note(`item shapes differ: ${difference}`);
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
      m.rawTx = succeeded.raw / spent.raw;
      m.apiRate = succeeded.api / spent.api;
      if (failed.raw + failed.api > 0)
        m.notes.push(`Failed calls (not counted as done): ${failed.raw} raw transactions, ${failed.api} POSTs.`);
      await stopAll([api]);
      await dropTables();
      progress.note(
        `raw TransactWriteItems ${fmt(m.rawTx)} tx/s, order-api ${fmt(m.apiRate)} orders/s (${fmt(m.apiRate / m.rawTx, 2)} of raw)`,
      );
    }

    // 2. POST → notification stored, from a cold start: the first COLD_S seconds at 25 % of an
    // estimate (raw transactions ÷ 2), then the path's peak (more offered than it can take), then
    // 25/50/90 % of that peak, each level starting from drained queues.
    if (runs('latency')) {
      // The raw limit again, on fresh tables just before the path is loaded: DynamoDB Local slows
      // down as a run goes on (the cause is not known; deleting each phase's tables does not stop
      // it), and the path's ratio is to the limit of the same moment. The API's ratio keeps its own.
      progress.step('raw TransactWriteItems', 'again, just before the latency phase');
      const latencyRaw = await newTables();
      const rawNow = async () => void (await benchDoc.send(rawOrderTransaction(latencyRaw, customerId)));
      await rate(300, CONCURRENCY, rawNow); // warm-up: on a fresh DynamoDB Local, the JVM is still compiling
      m.rawTxBeforeLatency = await rate(Math.max(300, sizes.orders / 4), CONCURRENCY, rawNow);
      progress.note(`raw TransactWriteItems before the latency phase: ${fmt(m.rawTxBeforeLatency)} tx/s`);
      await dropTables();
      const latencyTables = await newTables();
      const latencyTopic = await newTopic();
      const env = baseEnv(latencyTables, latencyTopic);
      progress.step('latency', 'cold start of order-api, outbox-relay and notifier');
      const [latencyApi, , notifier] = await Promise.all([
        launch('order-api', 'order-api-2', env),
        launchRelay(env),
        launch('notifier', 'notifier', env),
      ]);
      const posted: { orderId: string; at: number; answeredAt: number; level: string }[] = [];
      /** Open loop: `perS` orders a second for `seconds`, each POST on its own (bounded in flight). */
      const offer = async (perS: number, seconds: number, level: string, label: string) => {
        const began = Date.now();
        const inFlight = new Set<Promise<void>>();
        for (let i = 0; i < perS * seconds; i++) {
          const due = began + (i * 1000) / perS;
          if (due > Date.now()) await sleep(due - Date.now());
          if (inFlight.size >= 256) await Promise.race(inFlight);
          const at = Date.now();
          const work = post(latencyApi.port).then(
            (orderId) => void posted.push({ orderId, at, answeredAt: Date.now(), level }),
            () => void m.failedPosts++,
          );
          inFlight.add(work);
          void work.finally(() => inFlight.delete(work));
          if (i % 10 === 0) progress.update(`${label}: ${Math.round((Date.now() - began) / 1000)}/${seconds} s`);
        }
        await Promise.allSettled([...inFlight]);
      };
      // Every answered order's marker is in the table. The notifier's counter alone is not enough:
      // an order whose POST timed out or failed after its transaction committed is notified too,
      // so under overload the counter can pass the answered count before all of those are stored.
      let processed = new Map<string, number>();
      const allNotified = async () =>
        waitFor(
          async () => {
            const stored = (await metric(notifier, 'notifier_events_processed_total', 'outcome="stored"')) ?? 0;
            progress.update(`${stored}/${posted.length} notifications stored`);
            if (stored < posted.length) return false;
            processed = await processedAtByOrder(doc, latencyTables.Notifications!);
            return posted.every((s) => processed.has(s.orderId));
          },
          { timeoutMs: 300_000, intervalMs: 500, what: `${posted.length} notifications` },
        ).catch((error: unknown) => m.notes.push(`Latency: ${String(error)}`));
      const estimate = m.rawTxBeforeLatency / 2;
      const coldStart = Date.now();
      progress.step('latency', `cold start: ${COLD_S} s at 25 % of ${fmt(estimate)} orders/s (raw tx ÷ 2)`);
      await offer(0.25 * estimate, COLD_S, 'cold', 'cold start');
      await allNotified();
      // The path's peak: offered at 1.25 × the estimate, the orders notified over the time from
      // the first POST to the last notification.
      progress.step('latency', `the path's peak: offering ${fmt(1.25 * estimate)} orders/s`);
      await offer(1.25 * estimate, sizes.levelS, 'peak', 'peak');
      await allNotified();
      const saturated = posted.filter((s) => s.level === 'peak');
      const saturatedDone = saturated.flatMap((s) => processed.get(s.orderId) ?? []);
      m.pathPeak =
        saturated.length > 0 && saturatedDone.length === saturated.length
          ? saturated.length / ((Math.max(...saturatedDone) - Math.min(...saturated.map((s) => s.at))) / 1000)
          : Number.NaN;
      const peak = Number.isFinite(m.pathPeak) ? m.pathPeak : estimate;
      if (!Number.isFinite(m.pathPeak)) m.notes.push('The path peak could not be measured: levels use raw tx ÷ 2.');
      for (const share of LOAD_LEVELS) {
        const label = `${share * 100} % of peak (${fmt(share * peak)} orders/s)`;
        progress.step('latency', label);
        await offer(share * peak, sizes.levelS, String(share), label);
        await allNotified();
      }
      // Each order's event as the relay published it: its Kafka timestamp and its occurredAt.
      const published = new Map<string, { sentAt: number; occurredAt: number }>();
      for (const event of await readWholeTopic(brokers, latencyTopic)) {
        if (event.seq !== 1 || event.timestamp === undefined || event.occurredAt === undefined) continue;
        published.set(event.aggregateId, { sentAt: event.timestamp, occurredAt: Date.parse(event.occurredAt) });
      }
      const stage = (values: number[]): StageLatency => ({ p50: percentile(values, 50), p99: percentile(values, 99) });
      const row = (label: string, share: number, cold: boolean, offered: number, level: string, seconds: number) => {
        const samples = posted.filter((s) => s.level === level);
        const latencies = samples.flatMap((s) => {
          const at = processed.get(s.orderId);
          return at === undefined ? [] : [at - s.at];
        });
        const traced = samples.flatMap((s) => {
          const event = published.get(s.orderId);
          const at = processed.get(s.orderId);
          return event && at !== undefined ? [{ ...event, processedAt: at }] : [];
        });
        return {
          label,
          share,
          cold,
          offeredPerS: offered,
          achievedPerS: samples.length / seconds,
          orders: samples.length,
          notified: latencies.length,
          p50: percentile(latencies, 50),
          p95: percentile(latencies, 95),
          p99: percentile(latencies, 99),
          stages: {
            post: stage(samples.map((s) => s.answeredAt - s.at)),
            toKafka: stage(traced.map((t) => t.sentAt - t.occurredAt)),
            toNotifier: stage(traced.map((t) => t.processedAt - t.sentAt)),
          },
        };
      };
      m.latencyRows.push(
        row(`cold start: first ${COLD_S} s at 25 % of raw tx ÷ 2`, 0.25, true, 0.25 * estimate, 'cold', COLD_S),
      );
      for (const share of LOAD_LEVELS)
        m.latencyRows.push(
          row(`steady, ${share * 100} % of peak`, share, false, share * peak, String(share), sizes.levelS),
        );
      progress.note(
        `cold start ${Math.round((Date.now() - coldStart) / 1000)} s ago; path peak ${fmt(m.pathPeak)} orders/s`,
      );
      await stopAll([...services]);
      await dropTables();
    }

    // 3. Raw Kafka produce: one idempotent producer, acks=all, batches of BATCH.
    if (runs('relay') || runs('kinesis') || runs('scaling')) {
      progress.step('raw Kafka produce', `${sizes.produce} messages, batches of ${BATCH}, idempotent, acks=all`);
      const rawTopic = await newTopic();
      const sample = JSON.stringify(outboxItem(randomUUID(), customerId, new Date().toISOString()));
      m.rawProduce = await withProducer(async (producer) => {
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
        return sizes.produce / ((performance.now() - produceStarted) / 1000);
      });
      progress.note(`raw produce ${fmt(m.rawProduce)} msg/s`);
    }

    // 4. One relay drains a backlog from the outbox table's DynamoDB stream, against raw GetRecords.
    if (runs('relay')) {
      const backlogTables = await newTables();
      const backlogTopic = await newTopic();
      progress.step('outbox backlog', `writing ${sizes.backlog} events`);
      await writeBacklog(doc, backlogTables.OrderOutbox!, sizes.backlog, (n) =>
        progress.update(`${n}/${sizes.backlog}`),
      );
      progress.step('raw DynamoDB stream read', `${sizes.backlog} records`);
      m.streamRead = await rawStreamRead(client, dynamodbEndpoint, backlogTables.OrderOutbox!, sizes.backlog);
      progress.note(`raw stream read ${fmt(m.streamRead.rate)} records/s (${m.streamRead.shards} shard)`);
      progress.step('raw pipe, DynamoDB Streams', `${sizes.backlog} records read and produced as they are`);
      const pipeTopic = await newTopic();
      const pipe = await withProducer((producer) =>
        rawStreamPipe(client, dynamodbEndpoint, backlogTables.OrderOutbox!, producer, pipeTopic, sizes.backlog, (n) =>
          progress.update(`${n}/${sizes.backlog}`),
        ),
      );
      m.ddbPipe = pipe;
      progress.note(`raw pipe ${fmt(pipe)} records/s`);
      progress.step('relay drain, DynamoDB Streams', `${sizes.backlog} events, 1 relay`);
      const relayDdb = await launchRelay(baseEnv(backlogTables, backlogTopic));
      m.ddbDrain = (
        await trackDrain(admin, backlogTopic, sizes.backlog, (n) => progress.update(`${n}/${sizes.backlog} on Kafka`))
      ).ratePerS;
      await stopAll([relayDdb]);
      await dropTables();
      progress.note(`relay drain (DynamoDB Streams, ${m.streamRead.shards} shard): ${fmt(m.ddbDrain)} events/s`);
    }

    const newKinesisStream = async (shards = options.shards) => {
      const streamName = `bench-${suffix()}`;
      await directKinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shards }));
      const deleted = async () => {
        await directKinesis.send(new DeleteStreamCommand({ StreamName: streamName })).catch(() => undefined);
      };
      cleanups.push(deleted);
      await waitFor(
        async () =>
          (await directKinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName })))
            .StreamDescriptionSummary?.StreamStatus === 'ACTIVE',
        { timeoutMs: 60_000, what: `${streamName} to be ACTIVE` },
      );
      return { streamName, deleted };
    };
    /** Writes `count` change records with 4 writers (straight to kinesalite); records per second. */
    const writeKinesis = async (streamName: string, count: number, label: string) => {
      let next = 0;
      let written = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < count) {
            const size = Math.min(BATCH, count - next);
            next += size;
            const records = Array.from({ length: size }, () => destinationRecord(randomUUID()));
            const { FailedRecordCount } = await directKinesis.send(
              new PutRecordsCommand({ StreamName: streamName, Records: records }),
            );
            if (FailedRecordCount) throw new Error(`kinesalite refused ${FailedRecordCount} records`);
            progress.update(`${label}: ${(written += size)}/${count} written`);
          }
        }),
      );
      return count / ((performance.now() - started) / 1000);
    };
    const kinesisEnv = (tables: Record<string, string>, topic: string, streamName: string) => ({
      ...baseEnv(tables, topic),
      RELAY_SOURCE: 'kinesis',
      KINESIS_STREAM_NAME: streamName,
      KINESIS_ENDPOINT: kinesisEndpoint,
    });

    // 5. Kinesis streams of 1 and `shards` shards: raw read, then one relay (uncapped) draining each.
    if (runs('kinesis')) {
      for (const shards of [...new Set([1, options.shards])]) {
        progress.step(`Kinesis ${shards} shard(s)`, `creating the stream, writing ${sizes.kinesisRecords} records`);
        const { streamName, deleted } = await newKinesisStream(shards);
        await writeKinesis(streamName, sizes.kinesisRecords, 'backlog');
        progress.step(`raw Kinesis read, ${shards} shard(s)`, 'one reader per shard');
        const read = await rawKinesisRead(kinesis, streamName);
        progress.note(`raw Kinesis read: ${fmt(read)} records/s (${shards} shard(s))`);
        progress.step(`raw pipe, Kinesis ${shards} shard(s)`, 'records read and produced as they are');
        const pipeTopic = await newTopic();
        const pipe = await withProducer((producer) =>
          rawKinesisPipe(kinesis, streamName, producer, pipeTopic, (n) =>
            progress.update(`${n}/${sizes.kinesisRecords}`),
          ),
        );
        progress.note(`raw pipe: ${fmt(pipe)} records/s (${shards} shard(s))`);
        progress.step(`relay drain, Kinesis ${shards} shard(s)`, '1 relay process');
        const topic = await newTopic();
        const relay = await launchRelay(kinesisEnv(await newTables(), topic, streamName));
        const { ratePerS: drain } = await trackDrain(admin, topic, sizes.kinesisRecords, (n) =>
          progress.update(`1 relay: ${n}/${sizes.kinesisRecords} on Kafka`),
        );
        await stopAll([relay]);
        await dropTables();
        await deleted();
        m.kinesis.push({ shards, read, pipe, drain });
        progress.note(`relay drain (Kinesis ${shards} shard(s), 1 relay): ${fmt(drain)} events/s`);
      }
    }

    // 6. Scale-out: 1 … N relay processes, each the size of its Fargate task (a CPU quota), on an
    // empty stream until their leases are balanced; then a warm-up backlog is drained, and the
    // measured backlog is written and drained.
    if (runs('scaling')) {
      const scalingLeaseMs =
        process.env.LEASE_DURATION_MS ?? relayTaskVariable(RELAY_MANIFEST, 'LEASE_DURATION_MS') ?? '2000';
      m.scalingLeaseMs = Number(scalingLeaseMs);
      const relayCounts = options.quick
        ? [...new Set([1, options.relays])]
        : Array.from({ length: options.relays }, (_, i) => i + 1);
      for (const count of relayCounts) {
        const label = `${count} relay(s)`;
        progress.step(`scale-out, Kinesis ${options.shards} shards`, `${label}: starting, waiting for balanced leases`);
        const { streamName, deleted } = await newKinesisStream();
        const topic = await newTopic();
        // The task's lease as deployed: at 0.25 vCPU the default one lapses under a backlog.
        const env = { ...kinesisEnv(await newTables(), topic, streamName), LEASE_DURATION_MS: scalingLeaseMs };
        const caps: CpuCap[] = [];
        const relays = await Promise.all(
          Array.from({ length: count }, async () => {
            const relay = await launchRelay(env);
            if (options.relayCpus > 0) {
              const cap = createCpuCap(`outbox-bench-${suffix()}`, options.relayCpus);
              if ('unavailable' in cap) m.scalingCapNote ??= cap.unavailable;
              else {
                // Removed on any exit of the run (an empty group left behind would be harmless).
                cleanups.push(() => cap.remove());
                cap.add(relay.child.pid!);
                caps.push(cap);
              }
            }
            return relay;
          }),
        );
        const balanceStarted = performance.now();
        let owned: number[] = [];
        let settledSamples = 0;
        await waitFor(
          async () => {
            owned = await Promise.all(relays.map(async (relay) => (await metric(relay, 'relay_shards_owned')) ?? 0));
            const fair =
              owned.reduce((a, b) => a + b, 0) === options.shards && Math.max(...owned) - Math.min(...owned) <= 1;
            settledSamples = fair ? settledSamples + 1 : 0;
            progress.update(`${label}: shards owned ${owned.join(' / ')}`);
            return settledSamples >= 3;
          },
          { timeoutMs: 60_000, intervalMs: 250, what: 'balanced shard leases' },
        ).catch(() =>
          m.notes.push(`${label}: shard leases not balanced after 60 s (owned ${owned.join(' / ')}); measured anyway.`),
        );
        const balancedMs = performance.now() - balanceStarted;
        // A warm-up backlog first, drained before measuring: a relay's first seconds of traffic
        // run on code not yet compiled, which at 0.25 CPU takes several seconds, and a short drain
        // by three relays would be mostly that (the cold start is the latency phase's to report).
        await writeKinesis(streamName, SCALING_WARMUP, `${label}: warm-up`);
        await waitFor(async () => (await topicEnd(admin, topic)) >= SCALING_WARMUP, {
          timeoutMs: 300_000,
          intervalMs: 100,
          what: `the warm-up's ${SCALING_WARMUP} records on ${topic}`,
        });
        const publishedBefore = await Promise.all(
          relays.map(async (relay) => (await metric(relay, 'relay_records_published_total')) ?? 0),
        );
        // Leases lost while the measured backlog drains (a steal while balancing is not one of them).
        const losses = async (relay: ServiceProcess) => (await metric(relay, 'relay_shard_lease_losses_total')) ?? 0;
        const lossesBefore = await Promise.all(relays.map(losses));
        const cpuAt = () => ({
          at: performance.now(),
          relays: relays.map((relay) => cpuSeconds(relay.child.pid)),
          machine: machineCpuTicks(),
        });
        const atStart = cpuAt();
        // While the backlog is written, the bench and kinesalite taking it use most of the
        // machine and the relays get less than their share; the drain is measured apart from then.
        const writing = writeKinesis(streamName, sizes.scalingRecords, label);
        const drained = trackDrain(
          admin,
          topic,
          sizes.scalingRecords,
          (n) => progress.update(`${label}: ${n}/${sizes.scalingRecords} on Kafka`),
          SCALING_WARMUP,
          writing,
        );
        const writePerS = await writing;
        const atWriteEnd = cpuAt();
        const { ratePerS: wholeEventsPerS, afterMark } = await drained;
        const afterWrite = afterMark !== undefined && afterMark.records >= sizes.scalingRecords / 4;
        const usage = afterWrite ? atWriteEnd : atStart;
        const eventsPerS = afterWrite ? afterMark.ratePerS : wholeEventsPerS;
        const drainS = (performance.now() - usage.at) / 1000;
        // Everything shares the machine (kinesalite, the broker, the delay proxy, the bench): a
        // machine near fully busy means the relays waited for them, not for their own CPU.
        const machineBusy = busyShare(usage.machine, machineCpuTicks());
        // Per relay: what it published and the share of a CPU it used while the rate was measured.
        const perRelay = await Promise.all(
          relays.map(async (relay, i) => ({
            published: ((await metric(relay, 'relay_records_published_total')) ?? 0) - publishedBefore[i]!,
            cpu: (cpuSeconds(relay.child.pid) - usage.relays[i]!) / drainS,
            leaseLosses: (await losses(relay)) - lossesBefore[i]!,
          })),
        );
        await stopAll(relays);
        await dropTables();
        await Promise.all(caps.map((cap) => cap.remove()));
        await deleted();
        const cpus = caps.length === count ? options.relayCpus : 0;
        m.scaling.push({
          relays: count,
          eventsPerS,
          wholeEventsPerS,
          afterWrite,
          cpus,
          writePerS,
          balancedMs,
          perRelay,
          machineBusy,
        });
        progress.note(
          `scale-out (Kinesis ${options.shards} shards, ${label}${cpus > 0 ? ` × ${cpus} CPU` : ', uncapped'}): ${fmt(eventsPerS)} events/s (written at ${fmt(writePerS)}/s)`,
        );
      }
    }

    // 7. Failover: two relays on one stream shard, a trickle of orders, SIGKILL of the shard's owner.
    if (runs('failover')) {
      const tables = await newTables();
      const topic = await newTopic();
      const env = baseEnv(tables, topic);
      progress.step('failover', 'order-api and two relays');
      const api = await launch('order-api', 'order-api-3', env);
      const relaysNow = [await launchRelay(env), await launchRelay(env)];
      let trickling = true;
      const trickle = (async () => {
        while (trickling) {
          await post(api.port).catch(() => undefined);
          await sleep(50);
        }
      })();
      await sleep(sizes.failoverLoadS * 1000);
      let owner: ServiceProcess | undefined;
      await waitFor(
        async () => {
          for (const relay of relaysNow) if (((await metric(relay, 'relay_shards_owned')) ?? 0) > 0) owner = relay;
          return owner !== undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: "the stream shard's owner" },
      );
      rss.unwatch(owner!);
      const killedAt = performance.now();
      await owner!.kill();
      services.delete(owner!);
      // Whatever the dead owner had in flight has landed by now; anything later comes from the other.
      await sleep(200);
      const baseline = await topicEnd(admin, topic);
      let flowingAt: number | undefined;
      progress.step('failover', `owner ${owner!.name} SIGKILLed; waiting for events to flow again`);
      await waitFor(
        async () => {
          if ((await topicEnd(admin, topic)) > baseline) flowingAt = performance.now();
          return flowingAt !== undefined;
        },
        { timeoutMs: 120_000, intervalMs: 20, what: 'events to reach Kafka after the failover' },
      ).catch((error: unknown) => m.notes.push(`Failover: ${String(error)}`));
      trickling = false;
      await trickle;
      m.failoverGapMs = flowingAt === undefined ? Number.NaN : flowingAt - killedAt;
      rss.sample();
      await stopAll([...services]);
      await dropTables();
    }

    m.tracing = sink ? { collector: 'the bench sink', ...sink.received() } : { collector: givenCollector! };
    m.tracing.lost = m.spansLost;
    const result = buildResult(options, m, rss, startedAt, sizes, mode);
    const markdown = formatMarkdown(result, mode);
    const runDir = join(
      options.out,
      `${startedAt.toISOString().replace(/[:.]/g, '-')}${options.quick ? '-quick' : ''}${options.delayMs > 0 ? `-delay${options.delayMs}` : ''}`,
    );
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(runDir, 'result.md'), markdown);
    const steady = m.latencyRows.filter((r) => !r.cold);
    if (steady.length > 0)
      writeFileSync(
        join(runDir, 'latency.svg'),
        lineChart({
          title: `POST → notification stored (${mode})`,
          xLabel: 'offered load, orders/s',
          yLabel: 'latency, ms',
          threshold: { y: 250, label: 'target p99 at 50 %: 250 ms' },
          series: (['p50', 'p95', 'p99'] as const).map((p) => ({
            name: p,
            points: steady.map((r) => [r.offeredPerS, r[p]]),
          })),
        }),
      );
    const one = m.scaling.find((s) => s.relays === 1)?.eventsPerS ?? Number.NaN;
    if (m.scaling.length > 0)
      writeFileSync(
        join(runDir, 'relays.svg'),
        lineChart({
          title: `Relay scale-out, Kinesis ${options.shards} shards (${mode}${m.scaling[0]!.cpus > 0 ? `, ${m.scaling[0]!.cpus} CPU per relay` : ''})`,
          xLabel: 'relay processes',
          yLabel: 'events/s',
          series: [
            { name: 'measured', points: m.scaling.map((s) => [s.relays, s.eventsPerS]) },
            { name: 'linear from 1 relay', dashed: true, points: m.scaling.map((s) => [s.relays, s.relays * one]) },
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
  const port = await freePort();
  const proxy = await startDelayProxy({ targetHost: '127.0.0.1', targetPort: port, delayMs });
  const server = new KafkaServer({ port, controllerPort: await freePort(), dataDir, advertisedPort: proxy.port });
  progress.step(
    'starting',
    `a Kafka of the bench's own on :${server.port}, advertised through the proxy :${proxy.port}`,
  );
  cleanups.push(() => proxy.close());
  cleanups.push(() => server.stop());
  await server.start();
  return [proxy.address];
}

type BenchResult = ReturnType<typeof buildResult>;

/** The run's numbers and its target rows; a target whose phase did not run is left out. */
function buildResult(
  options: BenchOptions,
  m: Measured,
  rss: Pick<RssSampler, 'peakMb' | 'peakPhase'>,
  startedAt: Date,
  sizes: ReturnType<typeof sizesFor>,
  mode: string,
) {
  const targets: Target[] = [];
  const ratioTarget = (name: string, ratio: number, min: number, detail: string, checked = true) =>
    targets.push({
      name,
      measured: `${fmt(ratio, 2)} (${detail})`,
      target: `≥ ${min}`,
      pass: checked ? ratio >= min : undefined,
    });
  const rawProduce = m.rawProduce ?? Number.NaN;
  if (m.rawTx !== undefined && m.apiRate !== undefined) {
    const same = (m.itemShapeDifferences ?? []).length === 0;
    targets.push({
      name: 'order-api orders/s ÷ raw TransactWriteItems/s (same items)',
      measured: `${fmt(m.apiRate / m.rawTx, 2)} (${fmt(m.apiRate)} ÷ ${fmt(m.rawTx)}${same ? '' : '; the items differ'})`,
      target: '≥ 0.9',
      pass: same && m.apiRate / m.rawTx >= 0.9,
    });
  }
  if (m.rawTxBeforeLatency !== undefined && m.pathPeak !== undefined)
    ratioTarget(
      "POST → notification stored, the path's sustained orders/s ÷ (raw TransactWriteItems/s ÷ 2, measured just before)",
      m.pathPeak / (m.rawTxBeforeLatency / 2),
      0.8,
      `${fmt(m.pathPeak)} ÷ ${fmt(m.rawTxBeforeLatency / 2)}`,
    );
  // What reading and producing at once leaves of the limit, on this machine (see rawPipe).
  const pipeShare = (pipe: number | undefined, limit: number) =>
    pipe === undefined ? '' : `; the raw pipe reached ${fmt(pipe / limit, 2)} of it`;
  if (m.streamRead !== undefined && m.ddbDrain !== undefined) {
    const limit = Math.min(m.streamRead.rate, rawProduce);
    ratioTarget(
      `relay drain ÷ min(raw read, raw produce), DynamoDB Streams ${m.streamRead.shards} shard, ${mode}`,
      m.ddbDrain / limit,
      0.8,
      `${fmt(m.ddbDrain)} ÷ ${fmt(limit)}${pipeShare(m.ddbPipe, limit)}`,
    );
  }
  for (const run of m.kinesis) {
    const limit = Math.min(run.read, rawProduce);
    ratioTarget(
      `relay drain ÷ min(raw read, raw produce), Kinesis ${run.shards} shard(s), 1 relay, ${mode}`,
      run.drain / limit,
      0.8,
      `${fmt(run.drain)} ÷ ${fmt(limit)}${pipeShare(run.pipe, limit)}`,
    );
  }
  const one = m.scaling.find((s) => s.relays === 1);
  const three = m.scaling.find((s) => s.relays === 3);
  if (one && three) {
    const sized = three.cpus > 0 ? `${three.cpus} CPU per relay (its Fargate task)` : 'relays uncapped';
    ratioTarget(
      `3 relays ÷ 1 relay, Kinesis ${options.shards} shards, ${sized}, ${mode}${options.delayMs > 0 ? '' : ' (target applies with --delay-ms)'}`,
      three.eventsPerS / one.eventsPerS,
      2.4,
      `${fmt(three.eventsPerS)} ÷ ${fmt(one.eventsPerS)}`,
      options.delayMs > 0 && options.shards === 8,
    );
  }
  const at50 = m.latencyRows.find((r) => !r.cold && r.share === 0.5);
  if (at50)
    targets.push({
      name: "POST → notification stored p99 at 50 % of the path's peak",
      measured: `${fmt(at50.p99)} ms (${fmt(at50.offeredPerS)} orders/s)`,
      target: '≤ 250 ms',
      pass: Number.isFinite(at50.p99) && at50.notified === at50.orders && at50.p99 <= 250,
    });
  for (const kind of ['order-api', 'outbox-relay', 'notifier']) {
    const peak = rss.peakMb.get(kind);
    if (peak !== undefined)
      targets.push({
        name: `${kind} peak RSS under load`,
        measured: `${fmt(peak)} MB`,
        target: '< 150 MB',
        pass: peak < 150,
      });
  }
  return {
    startedAt: startedAt.toISOString(),
    node: process.version,
    cpus: cpus().length,
    quick: options.quick,
    delayMs: options.delayMs,
    phases: [...options.only],
    sizes,
    concurrency: CONCURRENCY,
    batch: BATCH,
    rates: {
      rawTransactWriteItemsPerS: m.rawTx,
      rawTransactWriteItemsBeforeLatencyPerS: m.rawTxBeforeLatency,
      apiOrdersPerS: m.apiRate,
      pathPeakOrdersPerS: m.pathPeak,
      rawDynamoDbStreamReadPerS: m.streamRead?.rate,
      dynamoDbStreamShards: m.streamRead?.shards,
      rawProducePerS: m.rawProduce,
      rawPipeDynamoDbStreamsPerS: m.ddbPipe,
      relayDrainDynamoDbStreamsPerS: m.ddbDrain,
      kinesisShards: options.shards,
    },
    kinesis: m.kinesis,
    itemShapeDifferences: m.itemShapeDifferences,
    scaling: m.scaling,
    scalingCapNote: m.scalingCapNote,
    scalingLeaseMs: m.scalingLeaseMs,
    latency: m.latencyRows,
    failedPosts: m.failedPosts,
    failover: { gapMs: m.failoverGapMs, leaseDurationMs: relayDefaults.lease.durationMs },
    rssPeakMb: Object.fromEntries(rss.peakMb),
    rssPeakPhase: Object.fromEntries(rss.peakPhase),
    tracing: m.tracing,
    notes: m.notes,
    targets,
  };
}

function formatMarkdown(result: BenchResult, mode: string): string {
  const r = result.rates;
  const table = (header: string[], rows: string[][]) =>
    [
      `| ${header.join(' | ')} |`,
      `| ${header.map(() => '---').join(' | ')} |`,
      ...rows.map((row) => `| ${row.join(' | ')} |`),
    ].join('\n');
  const n = (value: number | undefined, digits = 0) => fmt(value ?? Number.NaN, digits);
  const throughput: string[][] = [];
  if (r.apiOrdersPerS !== undefined)
    throughput.push([
      'order-api POST /orders',
      `${n(r.apiOrdersPerS)} orders/s`,
      `TransactWriteItems ${n(r.rawTransactWriteItemsPerS)} tx/s (same three items)`,
      n(r.apiOrdersPerS / r.rawTransactWriteItemsPerS!, 2),
      '',
      '',
    ]);
  if (r.pathPeakOrdersPerS !== undefined)
    throughput.push([
      "POST → notification stored, the path's peak",
      `${n(r.pathPeakOrdersPerS)} orders/s`,
      `TransactWriteItems ${n(r.rawTransactWriteItemsBeforeLatencyPerS)} tx/s (measured just before) ÷ 2 (API and notifier)`,
      n(r.pathPeakOrdersPerS / (r.rawTransactWriteItemsBeforeLatencyPerS! / 2), 2),
      '',
      '',
    ]);
  const pipeColumns = (drain: number, pipe: number | undefined) =>
    pipe === undefined ? ['', ''] : [`${fmt(pipe)}/s`, fmt(drain / pipe, 2)];
  if (r.relayDrainDynamoDbStreamsPerS !== undefined)
    throughput.push([
      `relay, DynamoDB Streams (${r.dynamoDbStreamShards} shard)`,
      `${n(r.relayDrainDynamoDbStreamsPerS)} events/s`,
      `stream read ${n(r.rawDynamoDbStreamReadPerS)}/s, produce ${n(r.rawProducePerS)}/s`,
      n(r.relayDrainDynamoDbStreamsPerS / Math.min(r.rawDynamoDbStreamReadPerS!, r.rawProducePerS!), 2),
      ...pipeColumns(r.relayDrainDynamoDbStreamsPerS, r.rawPipeDynamoDbStreamsPerS),
    ]);
  for (const run of result.kinesis)
    throughput.push([
      `relay × 1, Kinesis (${run.shards} shard${run.shards === 1 ? '' : 's'})`,
      `${fmt(run.drain)} events/s`,
      `Kinesis read ${fmt(run.read)}/s, produce ${n(r.rawProducePerS)}/s`,
      fmt(run.drain / Math.min(run.read, r.rawProducePerS!), 2),
      ...pipeColumns(run.drain, run.pipe),
    ]);
  const sections = [
    `# Bench ${result.startedAt} (${mode}${result.quick ? ', quick' : ''}; node ${result.node}, ${result.cpus} CPUs; phases ${result.phases.join(', ')})`,
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
  ];
  if (throughput.length > 0)
    sections.push(
      '## Throughput against the raw limits (same run)',
      '',
      table(['path', 'measured', 'raw limit', 'ratio', 'raw pipe', '÷ raw pipe'], throughput),
      '',
      'The raw limits are each measured alone, with the whole machine. The raw pipe reads the same backlog and produces every page as it is, at once, in one process (no decoding, checks, spans or checkpoints): the most any relay could drain here, where the reader, the broker and the relay share the cores.',
      '',
    );
  if (result.scaling.length > 0)
    sections.push(
      `## Scale-out (Kinesis ${r.kinesisShards} shards; the backlog is written once every relay's leases are balanced; LEASE_DURATION_MS ${result.scalingLeaseMs}, as the task is deployed)`,
      '',
      table(
        [
          'relays',
          'CPU per relay',
          'events/s',
          '÷ 1 relay',
          'whole drain events/s (÷ 1 relay)',
          'backlog written at',
          'leases balanced after',
          'published per relay',
          'CPU used per relay',
          'leases lost while draining',
          'machine CPU busy',
        ],
        result.scaling.map((s) => [
          String(s.relays),
          s.cpus > 0 ? String(s.cpus) : 'uncapped',
          `${fmt(s.eventsPerS)}${s.afterWrite ? '' : ' (whole drain)'}`,
          fmt(s.eventsPerS / result.scaling[0]!.eventsPerS, 2),
          `${fmt(s.wholeEventsPerS)} (${fmt(s.wholeEventsPerS / result.scaling[0]!.wholeEventsPerS, 2)})`,
          `${fmt(s.writePerS)}/s`,
          `${fmt(s.balancedMs / 1000, 1)} s`,
          s.perRelay.map((r) => fmt(r.published)).join(' / '),
          s.perRelay.map((r) => fmt(r.cpu, 2)).join(' / '),
          String(s.perRelay.reduce((sum, r) => sum + r.leaseLosses, 0)),
          s.machineBusy === undefined ? 'n/a' : `${fmt(s.machineBusy * 100)} %`,
        ]),
      ),
      '',
      'Events/s, the CPU each relay used and the machine busy are measured from the end of the backlog write to the last record on Kafka (with all but a quarter or less of the backlog left to drain, otherwise over the whole drain, marked so): while the bench writes the backlog, it and kinesalite taking it keep the machine busy and the capped relays get less than their quota, more of the drain of three relays than of one. The whole drain, from the first record on Kafka, is shown beside it.',
      ...(result.scalingCapNote ? ['', `CPU quota unavailable, relays ran uncapped: ${result.scalingCapNote}.`] : []),
      '',
    );
  if (result.latency.length > 0)
    sections.push(
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
      `The path's peak, used for the load levels: ${n(r.pathPeakOrdersPerS)} orders/s. Failed POSTs: ${result.failedPosts}.`,
      '',
      "Where the time goes, p50 / p99 ms per stage: the POST until answered; the event's `occurredAt` (stamped by order-api before its transaction) until the relay sent it to Kafka (its record's timestamp); from there until the notifier stamped it processed. The first two overlap by the transaction.",
      '',
      table(
        ['phase', 'POST answered', 'occurredAt → Kafka', 'Kafka → notifier'],
        result.latency.map((l) => [
          l.label,
          ...(l.stages
            ? [l.stages.post, l.stages.toKafka, l.stages.toNotifier].map((x) => `${fmt(x.p50)} / ${fmt(x.p99)}`)
            : ['n/a', 'n/a', 'n/a']),
        ]),
      ),
      '',
    );
  sections.push('## Failover and memory', '');
  if (result.failover.gapMs !== undefined)
    sections.push(
      `- Failover gap (SIGKILL of the stream shard's owner → the next event on Kafka): ${n(result.failover.gapMs)} ms, with the relay's default lease (${result.failover.leaseDurationMs} ms).`,
    );
  sections.push(
    ...Object.entries(result.rssPeakMb).map(
      ([kind, mb]) => `- ${kind} peak RSS under load: ${fmt(mb)} MB (in: ${result.rssPeakPhase[kind] ?? '?'})`,
    ),
  );
  const tracing = result.tracing;
  if (tracing?.spans !== undefined)
    sections.push(
      `- Tracing: the services exported ${tracing.spans} spans in ${tracing.requests} OTLP requests (${fmt((tracing.bytes ?? 0) / 1e6, 1)} MB) to the bench's stand-in for the collector sidecar${tracing.rejected ? `; ${tracing.rejected} requests it could not read` : ''}.`,
    );
  else if (tracing) sections.push(`- Tracing: the services exported their spans to ${tracing.collector}.`);
  if (tracing?.lost)
    sections.push(
      `- Spans lost by each service's exporter (queue full or export failed; \`tracing_spans_total\`): ${
        Object.entries(tracing.lost)
          .map(([kind, n]) => `${kind} ${n}`)
          .join(', ') || 'none watched'
      }.`,
    );
  for (const difference of result.itemShapeDifferences ?? []) sections.push(`- Item shapes differ: ${difference}`);
  for (const note of result.notes) sections.push(`- ${note}`);
  sections.push('');
  return sections.join('\n');
}

main().then(
  // Exit now: a client's leftover timer must not keep a finished run alive.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
