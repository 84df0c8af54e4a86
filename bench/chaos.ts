/**
 * `npm run chaos [-- --duration 180 --rate 10 --seed 42]`
 *
 * Runs the whole system locally under a steady load of orders (some cancelled) and breaks it on
 * purpose: SIGKILL of the relay leader, SIGSTOP of the relay leader past its lease (then
 * SIGCONT), SIGKILL of the notifier while effects are stored but their offsets not yet committed,
 * and a Kafka restart. Two relays run, so a standby takes over. Then it verifies independently
 * of the services, from the topic (read from the beginning by a consumer of its own) and a scan
 * of the Notifications table: none missing, no double effect, per-aggregate order. It prints a
 * table of faults and invariants and exits 1 on any violation or unrecovered fault.
 *
 * Everything runs on its own: DynamoDB Local and Kafka on free ports with data in a temporary
 * folder, the services as child processes (`services/<name>/dist/main.js`), so it never touches
 * a stack that is already running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GetCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KafkaMessage } from 'kafkajs';
import {
  createDynamoDbClients,
  createKafka,
  createLogger,
  topicDefinitions,
  pollUntil as waitFor,
} from '@outbox/shared';
import { DynamoDbLocalServer, KafkaServer, ensureTables, ensureTopics } from '@outbox/local-stack';
import {
  formatReport,
  runFailed,
  verifyHistory,
  type AcknowledgedOrder,
  type AggregateCursor,
  type FaultRecord,
  type InboxMarker,
  type KafkaEvent,
  type StoredNotification,
} from './chaos/verify.ts';

const USAGE =
  'Usage: npm run chaos -- [--duration <seconds, default 180>] [--rate <orders/s, default 10>] [--seed <n>]';
const repoRoot = join(import.meta.dirname, '..');
const LEASE_MS = 4000;
/** Long enough that a SIGKILL while the notifier works lands after some effects and before their commit. */
const NOTIFIER_COMMIT_INTERVAL_MS = 5000;
const RECOVERY_TIMEOUT_MS = 120_000;
const CANCEL_SHARE = 0.3;
const quiet = createLogger({ service: 'chaos', level: 'silent' });

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '180' },
      rate: { type: 'string', default: '10' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const durationS = Number(values.duration);
  const rate = Number(values.rate);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  const problems = [
    ...(Number.isFinite(durationS) && durationS >= 40 ? [] : ['--duration must be a number of seconds, at least 40']),
    ...(Number.isFinite(rate) && rate > 0 && rate <= 200 ? [] : ['--rate must be a number of orders/s in (0, 200]']),
    ...(Number.isInteger(seed) ? [] : ['--seed must be an integer']),
  ];
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n${USAGE}\n`);
    process.exit(2);
  }
  return { durationS, rate, seed };
}

/** mulberry32: a small seeded generator, so a seed replays the same load and fault times. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A service child process, its port, and its log file. */
interface Service {
  name: string;
  port: number;
  opsPort: number;
  child: ChildProcess;
  exited: Promise<void>;
}

const children = new Set<ChildProcess>();
// A crash of the runner must not leave services behind: they are our children, killed by pid.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function startService(
  kind: 'order-api' | 'outbox-relay' | 'notifier',
  name: string,
  env: Record<string, string>,
  logDir: string,
): Promise<Service> {
  const port = await freePort();
  let opsPort = port;
  while (kind === 'order-api' && opsPort === port) opsPort = await freePort();
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  // Tracing entry first, as deployed (README, Tracing).
  const dist = join(repoRoot, 'services', kind, 'dist');
  const child = spawn(process.execPath, ['--import', join(dist, 'instrumentation.js'), join(dist, 'main.js')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      ...env,
      PORT: String(port),
      ...(kind === 'order-api' ? { OPS_PORT: String(opsPort) } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: see ${logDir}/${name}.log`);
      return (await fetch(`http://127.0.0.1:${opsPort}/readyz`).catch(() => undefined))?.status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: `${name} to be ready` },
  );
  return { name, port, opsPort, child, exited };
}

async function kill(service: Service): Promise<void> {
  if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
  await service.exited;
}

async function stopGracefully(service: Service): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), 20_000);
  await service.exited;
  clearTimeout(timer);
}

/** The sum of a metric's samples (all label sets matching `labels`) on a service's `/metrics`. */
async function metric(service: Service, name: string, labels = ''): Promise<number | undefined> {
  const response = await fetch(`http://127.0.0.1:${service.opsPort}/metrics`, {
    signal: AbortSignal.timeout(2000),
  }).catch(() => undefined);
  if (response?.status !== 200) return undefined;
  let sum: number | undefined;
  for (const line of (await response.text()).split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^(\w+)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match?.[1] !== name || !(match[2] ?? '').includes(labels)) continue;
    sum = (sum ?? 0) + Number(match[3]);
  }
  return sum;
}

async function main(): Promise<number> {
  const { durationS, rate, seed } = options(process.argv.slice(2));
  const random = seeded(seed);
  const say = (line: string) => process.stderr.write(`[chaos] ${line}\n`);
  say(`seed ${seed}, ${durationS} s of load at ${rate} orders/s (replay with --seed ${seed})`);

  const dataDir = mkdtempSync(join(tmpdir(), 'outbox-chaos-'));
  const logDir = dataDir;
  const dynamodb = new DynamoDbLocalServer({ port: await freePort(), dataDir });
  const kafka = new KafkaServer({
    port: await freePort(),
    controllerPort: await freePort(),
    dataDir,
    stopGraceMs: 15_000,
  });
  const services = new Set<Service>();
  const { client, doc } = createDynamoDbClients({ region: 'us-east-1', endpoint: dynamodb.endpoint });
  let failed = true;
  try {
    say(`starting DynamoDB Local (:${dynamodb.port}) and Kafka (:${kafka.port}); data and service logs in ${dataDir}`);
    await Promise.all([dynamodb.start(), kafka.start()]);
    const tables = await ensureTables({ client, tablePrefix: 'chaos-' });
    const topic = 'chaos-order-events';
    await ensureTopics({ brokers: kafka.brokers, definitions: topicDefinitions({ topic }) });

    const common = {
      DYNAMODB_ENDPOINT: dynamodb.endpoint,
      KAFKA_BROKERS: kafka.brokers.join(','),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      ORDERS_TABLE: tables.Orders!,
      OUTBOX_TABLE: tables.OrderOutbox!,
      RELAY_STATE_TABLE: tables.RelayState!,
      NOTIFICATIONS_TABLE: tables.Notifications!,
      ORDER_EVENTS_TOPIC: topic,
    };
    let relayCount = 0;
    const startRelay = () =>
      startService(
        'outbox-relay',
        `relay-${++relayCount}`,
        {
          ...common,
          RELAY_ID: `chaos-relay-${relayCount}`,
          LEASE_DURATION_MS: String(LEASE_MS),
          LEASE_RENEW_INTERVAL_MS: String(LEASE_MS / 4),
          POLL_IDLE_MAX_MS: '100',
          PUBLISH_RETRY_MAX_MS: '1000',
        },
        logDir,
      ).then((service) => (services.add(service), service));
    let notifierCount = 0;
    const startNotifier = () =>
      startService(
        'notifier',
        `notifier-${++notifierCount}`,
        {
          ...common,
          NOTIFIER_GROUP_ID: 'chaos-notifier',
          NOTIFIER_COMMIT_INTERVAL_MS: String(NOTIFIER_COMMIT_INTERVAL_MS),
          // A killed member is dropped from the group after the session timeout: keep it short.
          KAFKA_SESSION_TIMEOUT_MS: '10000',
          KAFKA_HEARTBEAT_INTERVAL_MS: '1000',
          NOTIFIER_RETRY_MAX_MS: '2000',
        },
        logDir,
      ).then((service) => (services.add(service), service));

    say('starting order-api, two relays and the notifier');
    const api = await startService('order-api', 'order-api', common, logDir);
    services.add(api);
    const relays = [await startRelay(), await startRelay()];
    let notifier = await startNotifier();

    // The load: `rate` orders per second, a share of them cancelled a moment later.
    const acknowledged = new Map<string, AcknowledgedOrder>();
    const counts = { posted: 0, created: 0, createFailed: 0, cancelled: 0, cancelFailed: 0 };
    const inFlight = new Set<Promise<void>>();
    const track = (work: Promise<void>) => {
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    };
    const placeOrder = async (): Promise<string | undefined> => {
      counts.posted++;
      const response = await fetch(`http://127.0.0.1:${api.port}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          customerId: '0d8f6b9e-3c1a-4f7e-9b2d-5a6c7e8f9a0b',
          items: [
            { productId: `sku-${Math.floor(random() * 50)}`, quantity: 1 + Math.floor(random() * 3), price: 9.5 },
          ],
        }),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      if (response?.status !== 201) {
        counts.createFailed++;
        return undefined;
      }
      const { orderId } = (await response.json()) as { orderId: string };
      counts.created++;
      acknowledged.set(orderId, { orderId, cancelled: false });
      return orderId;
    };
    const cancelOrder = async (orderId: string, afterMs: number) => {
      await sleep(afterMs);
      const response = await fetch(`http://127.0.0.1:${api.port}/orders/${orderId}/cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'chaos' }),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      if (response?.status === 200) {
        counts.cancelled++;
        acknowledged.set(orderId, { orderId, cancelled: true });
      } else {
        counts.cancelFailed++;
      }
      await response?.arrayBuffer();
    };

    const loadStarted = Date.now();
    const elapsedS = () => (Date.now() - loadStarted) / 1000;
    let loadRunning = true;
    const load = (async () => {
      let sent = 0;
      while (loadRunning) {
        const due = loadStarted + (sent * 1000) / rate;
        if (due > Date.now()) await sleep(due - Date.now());
        sent++;
        const cancelAfter = random() < CANCEL_SHARE ? 200 + Math.floor(random() * 1500) : undefined;
        track(
          placeOrder().then(async (orderId) => {
            if (orderId !== undefined && cancelAfter !== undefined) await cancelOrder(orderId, cancelAfter);
          }),
        );
      }
    })();
    const progress = setInterval(() => {
      say(
        `t=${elapsedS().toFixed(0)}s posted ${counts.posted}, created ${counts.created} (failed ${counts.createFailed}), cancelled ${counts.cancelled} (failed ${counts.cancelFailed})`,
      );
    }, 10_000);
    progress.unref();

    /** Places an order now and waits until its notification is stored: the end-to-end recovery probe. */
    const probe = async (since: number): Promise<number | undefined> => {
      let orderId: string | undefined;
      try {
        await waitFor(async () => (orderId = await placeOrder()) !== undefined, {
          timeoutMs: RECOVERY_TIMEOUT_MS,
          intervalMs: 200,
          what: 'the API to accept a probe order',
        });
        await waitFor(
          async () =>
            (
              await doc.send(
                new GetCommand({
                  TableName: tables.Notifications,
                  Key: { pk: `AGGREGATE#${orderId}`, sk: 'NOTIFICATION#0000000001' },
                  ConsistentRead: true,
                }),
              )
            ).Item !== undefined,
          { timeoutMs: RECOVERY_TIMEOUT_MS, intervalMs: 100, what: 'the probe order to be notified' },
        );
        return Date.now() - since;
      } catch {
        return undefined;
      }
    };
    const leader = async (): Promise<Service> => {
      let found: Service | undefined;
      await waitFor(
        async () => {
          for (const relay of relays) if ((await metric(relay, 'relay_leader')) === 1) found = relay;
          return found !== undefined;
        },
        { timeoutMs: RECOVERY_TIMEOUT_MS, intervalMs: 200, what: 'a relay to lead' },
      );
      return found!;
    };

    const faults: FaultRecord[] = [];
    const windowS = durationS;
    const at = (share: number) => (share + (random() - 0.5) * 0.04) * windowS;
    const untilLoadTime = async (seconds: number) => {
      const wait = loadStarted + seconds * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
    };

    // 1. The relay leader is SIGKILLed; the standby must take over; the killed one comes back as a standby.
    await untilLoadTime(at(0.1));
    {
      const victim = await leader();
      const injected = Date.now();
      await kill(victim);
      relays.splice(relays.indexOf(victim), 1);
      const recoveryMs = await probe(injected);
      const next = await leader().catch(() => undefined);
      faults.push({
        name: 'SIGKILL relay leader',
        injectedAtS: (injected - loadStarted) / 1000,
        recoveryMs,
        detail: `${victim.name} killed, ${next?.name ?? 'no relay'} leads`,
      });
      relays.push(await startRelay());
    }

    // 2. The relay leader is frozen past its lease, then resumed: the standby takes over, the old one steps down.
    await untilLoadTime(at(0.3));
    {
      const victim = await leader();
      const injected = Date.now();
      victim.child.kill('SIGSTOP');
      const recovery = probe(injected);
      await sleep(LEASE_MS * 2);
      victim.child.kill('SIGCONT');
      const recoveryMs = await recovery;
      // Once resumed, the old leader must notice it lost the lease: exactly one leader remains.
      let leaders: string[] = [];
      const steppedDown = await waitFor(
        async () => {
          leaders = [];
          for (const relay of relays) if ((await metric(relay, 'relay_leader')) === 1) leaders.push(relay.name);
          return leaders.length === 1 && leaders[0] !== victim.name;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: 'the resumed relay to step down' },
      ).then(
        () => true,
        () => false,
      );
      faults.push({
        name: `SIGSTOP relay leader ${(LEASE_MS * 2) / 1000} s (lease ${LEASE_MS / 1000} s), SIGCONT`,
        injectedAtS: (injected - loadStarted) / 1000,
        recoveryMs,
        detail: `${victim.name} frozen; leaders after: ${leaders.join(', ') || 'none'}`,
        ...(steppedDown ? {} : { problem: 'not exactly one leader (other than the resumed relay) within 30 s' }),
      });
    }

    // 3. The notifier is SIGKILLed while it works, with effects stored whose offsets are not committed yet.
    await untilLoadTime(at(0.5));
    {
      const storedBefore = (await metric(notifier, 'notifier_events_processed_total', 'outcome="stored"')) ?? 0;
      await waitFor(
        async () =>
          ((await metric(notifier, 'notifier_events_processed_total', 'outcome="stored"')) ?? 0) > storedBefore,
        { timeoutMs: 30_000, intervalMs: 50, what: 'the notifier to store an effect' },
      ).catch(() => undefined);
      const injected = Date.now();
      const victim = notifier;
      await kill(victim);
      services.delete(victim);
      const recovery = probe(injected);
      notifier = await startNotifier();
      const recoveryMs = await recovery;
      // Events stored before the kill but not committed come again: the inbox skips them as duplicates.
      const duplicates = await metric(notifier, 'notifier_events_processed_total', 'outcome="duplicate"');
      faults.push({
        name: `SIGKILL notifier between effect and commit (commit every ${NOTIFIER_COMMIT_INTERVAL_MS / 1000} s)`,
        injectedAtS: (injected - loadStarted) / 1000,
        recoveryMs,
        detail: duplicates
          ? `${victim.name} killed; ${duplicates} redelivered events skipped as duplicates by ${notifier.name}`
          : `${victim.name} killed; no redelivery seen (the kill landed after a commit this time)`,
      });
    }

    // 4. Kafka is stopped and started again (same data): relays and the notifier reconnect.
    await untilLoadTime(at(0.7));
    {
      const injected = Date.now();
      await kafka.stop();
      const stoppedMs = Date.now() - injected;
      const recovery = probe(injected);
      await kafka.start();
      const backMs = Date.now() - injected;
      const recoveryMs = await recovery;
      faults.push({
        name: 'Kafka restart',
        injectedAtS: (injected - loadStarted) / 1000,
        recoveryMs,
        detail:
          `broker stopped in ${(stoppedMs / 1000).toFixed(1)} s, answering again after ${(backMs / 1000).toFixed(1)} s` +
          (recoveryMs === undefined ? '' : `, delivering ${((recoveryMs - backMs) / 1000).toFixed(1)} s later`),
      });
    }

    // The load runs for the whole duration, and on until the last fault recovered when that takes longer.
    await untilLoadTime(windowS);
    loadRunning = false;
    await load;
    await Promise.allSettled([...inFlight]);
    clearInterval(progress);
    say(
      `load stopped after ${elapsedS().toFixed(0)} s: ${counts.created} orders acknowledged, ${counts.cancelled} cancels; waiting for the pipeline to drain`,
    );

    // Drain: every acknowledged event notified (bounded; the verifier reports whatever is still missing).
    const expectedNotifications = counts.created + counts.cancelled;
    await waitFor(async () => (await countNotifications(doc, tables.Notifications!)) >= expectedNotifications, {
      timeoutMs: 120_000,
      intervalMs: 1000,
      what: `${expectedNotifications} notifications`,
    }).catch((error: unknown) => say(String(error)));

    say('verifying: reading the topic from the beginning and scanning the Notifications table');
    const kafkaEvents = await readWholeTopic(kafka.brokers, topic);
    const stored = await scanNotifications(doc, tables.Notifications!);
    const invariants = verifyHistory({ acknowledged: [...acknowledged.values()], kafka: kafkaEvents, ...stored });
    process.stdout.write(
      [
        '',
        `Chaos run: seed ${seed}, ${durationS} s at ${rate} orders/s; ${counts.created} orders acknowledged (${counts.createFailed} refused or failed), ${counts.cancelled} cancels acknowledged (${counts.cancelFailed} refused or failed)`,
        `Kafka: ${kafkaEvents.length} records (${new Set(kafkaEvents.map((e) => e.eventId)).size} distinct events); Notifications: ${stored.notifications.length} notifications, ${stored.inbox.length} inbox markers`,
        '',
        formatReport(faults, invariants),
      ].join('\n'),
    );
    failed = runFailed(faults, invariants);
  } finally {
    await Promise.allSettled([...services].map(stopGracefully));
    client.destroy();
    await Promise.allSettled([kafka.stop(), dynamodb.stop()]);
    if (failed) say(`service logs kept in ${logDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

async function scanAll(doc: DynamoDBDocumentClient, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

async function countNotifications(doc: DynamoDBDocumentClient, table: string): Promise<number> {
  return (await scanAll(doc, table)).filter((item) => String(item.sk).startsWith('NOTIFICATION#')).length;
}

async function scanNotifications(
  doc: DynamoDBDocumentClient,
  table: string,
): Promise<{ notifications: StoredNotification[]; inbox: InboxMarker[]; cursors: AggregateCursor[] }> {
  const notifications: StoredNotification[] = [];
  const inbox: InboxMarker[] = [];
  const cursors: AggregateCursor[] = [];
  for (const item of await scanAll(doc, table)) {
    const pk = String(item.pk);
    const sk = String(item.sk);
    if (pk.startsWith('INBOX#')) {
      inbox.push({
        eventId: pk.slice('INBOX#'.length),
        aggregateId: String(item.aggregateId),
        seq: Number(item.seq),
        processedAt: String(item.processedAt),
      });
    } else if (pk.startsWith('AGGREGATE#') && sk === 'CURSOR') {
      cursors.push({ aggregateId: pk.slice('AGGREGATE#'.length), lastSeq: Number(item.lastSeq) });
    } else if (pk.startsWith('AGGREGATE#') && sk.startsWith('NOTIFICATION#')) {
      notifications.push({
        aggregateId: pk.slice('AGGREGATE#'.length),
        seq: Number(item.seq),
        eventId: String(item.eventId),
        eventType: String(item.eventType),
        createdAt: String(item.createdAt),
      });
    }
  }
  return { notifications, inbox, cursors };
}

/** Reads every record the topic holds, from the beginning, with a consumer group of its own. */
async function readWholeTopic(brokers: string[], topic: string): Promise<KafkaEvent[]> {
  const kafka = createKafka({ clientId: 'chaos-verifier', brokers, logger: quiet });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `chaos-verifier-${Date.now()}`, allowAutoTopicCreation: false });
  const events: KafkaEvent[] = [];
  const reached = new Map<number, bigint>();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
      const envelope = JSON.parse(message.value?.toString() ?? '{}') as Partial<KafkaEvent>;
      events.push({
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? null,
        eventId: String(envelope.eventId),
        eventType: String(envelope.eventType),
        aggregateId: String(envelope.aggregateId),
        seq: Number(envelope.seq),
      });
      reached.set(partition, BigInt(message.offset) + 1n);
    },
  });
  try {
    await waitFor(() => [...ends].every(([partition, end]) => end === 0n || (reached.get(partition) ?? 0n) >= end), {
      timeoutMs: 120_000,
      intervalMs: 100,
      what: `every record of ${topic}`,
    });
  } finally {
    await consumer.disconnect();
  }
  return events;
}

main().then(
  // Exit now: a client's leftover timer must not keep a finished run alive.
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
