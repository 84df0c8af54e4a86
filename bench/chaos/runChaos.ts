/**
 * The chaos run itself, apart from where its servers and processes come from: a steady load of
 * orders (some cancelled), the chosen faults injected one after the other, each timed until an
 * order placed after it is notified, then the independent verification (`verify.ts`) from the
 * topic and the Notifications table. `npm run chaos` (`../chaos.ts`) runs it on servers of its
 * own with every fault; `test/chaos/chaosShort.e2e.test.ts` runs a short one inside `npm test`.
 *
 * No `import.meta` here: Jest loads this file through its CommonJS transform.
 */
import type { ChildProcess } from 'node:child_process';
import { GetCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KafkaMessage } from 'kafkajs';
import { createKafka, createLogger, pollUntil as waitFor } from '@outbox/shared';
import {
  formatReport,
  runFailed,
  verifyHistory,
  type AcknowledgedOrder,
  type AggregateCursor,
  type FaultRecord,
  type InboxMarker,
  type InvariantResult,
  type KafkaEvent,
  type StoredNotification,
} from './verify.ts';

/** The faults a run can inject, in the order they are injected. */
export type ChaosFault = 'relay-sigkill' | 'relay-sigstop' | 'notifier-sigkill' | 'kafka-restart';

/** Every fault, as `npm run chaos` injects them. */
export const ALL_FAULTS: readonly ChaosFault[] = [
  'relay-sigkill',
  'relay-sigstop',
  'notifier-sigkill',
  'kafka-restart',
];

/** Where each fault lands, as a share of the load window. */
const FAULT_AT: Record<ChaosFault, number> = {
  'relay-sigkill': 0.1,
  'relay-sigstop': 0.3,
  'notifier-sigkill': 0.5,
  'kafka-restart': 0.7,
};

/** A service child process the run can signal. */
export interface ChaosService {
  name: string;
  /** The public port (order-api's API). */
  port: number;
  /** The port of `/metrics`. */
  opsPort: number;
  child: ChildProcess;
  /** SIGKILL, resolved once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (SIGKILL after a grace period), resolved once it is gone. */
  stop(): Promise<void>;
}

/** Options for {@link runChaos}. */
export interface RunChaosOptions {
  /** Seconds of load; faults land at fixed shares of it (10, 30, 50, 70 %). */
  durationS: number;
  /** Orders per second. */
  rate: number;
  /** Seeds the load and the fault times (a seed replays a run). */
  seed: number;
  faults: readonly ChaosFault[];
  /** Starts a service process with `env` on top of its own, ready when it resolves. */
  startService(
    kind: 'order-api' | 'outbox-relay' | 'notifier',
    name: string,
    env: Record<string, string>,
  ): Promise<ChaosService>;
  /** The environment every service shares (endpoints, tables, topic, the notifier's group). */
  env: Record<string, string>;
  brokers: string[];
  topic: string;
  notificationsTable: string;
  doc: DynamoDBDocumentClient;
  /** Needed for `kafka-restart`: stops the broker and starts it again on the same data. */
  kafka?: { stop(): Promise<void>; start(): Promise<void> };
  log(line: string): void;
  /** Relay lease in ms (default 4000). */
  leaseMs?: number;
  /** The notifier's commit interval in ms (default 5000): a kill lands between effect and commit. */
  notifierCommitIntervalMs?: number;
  /** How long a fault may take to recover, and the drain may take (default 120 s). */
  recoveryTimeoutMs?: number;
}

/** What a run saw and concluded. */
export interface ChaosResult {
  faults: FaultRecord[];
  invariants: InvariantResult[];
  counts: { posted: number; created: number; createFailed: number; cancelled: number; cancelFailed: number };
  /** The printed report (summary lines, fault table, invariant table, violations). */
  report: string;
  /** True on any violated invariant or unrecovered fault. */
  failed: boolean;
}

const CANCEL_SHARE = 0.3;
const quiet = createLogger({ service: 'chaos', level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

/** The sum of a metric's samples (all label sets matching `labels`) on a service's `/metrics`. */
export async function metric(service: ChaosService, name: string, labels = ''): Promise<number | undefined> {
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

/**
 * Runs the load, injects `faults`, drains and verifies. Stops every service it started before it
 * returns (or throws).
 */
export async function runChaos(options: RunChaosOptions): Promise<ChaosResult> {
  const { durationS, rate, seed, env, doc, log: say } = options;
  const leaseMs = options.leaseMs ?? 4000;
  const commitIntervalMs = options.notifierCommitIntervalMs ?? 5000;
  const recoveryTimeoutMs = options.recoveryTimeoutMs ?? 120_000;
  const random = seeded(seed);
  const services = new Set<ChaosService>();
  const started = async (service: Promise<ChaosService>) => {
    const running = await service;
    services.add(running);
    return running;
  };
  try {
    let relayCount = 0;
    const startRelay = () =>
      started(
        options.startService('outbox-relay', `relay-${++relayCount}`, {
          ...env,
          RELAY_ID: `chaos-relay-${relayCount}`,
          LEASE_DURATION_MS: String(leaseMs),
          LEASE_RENEW_INTERVAL_MS: String(leaseMs / 4),
          POLL_IDLE_MAX_MS: '100',
          PUBLISH_RETRY_MAX_MS: '1000',
        }),
      );
    let notifierCount = 0;
    const startNotifier = () =>
      started(
        options.startService('notifier', `notifier-${++notifierCount}`, {
          NOTIFIER_GROUP_ID: 'chaos-notifier',
          ...env,
          NOTIFIER_COMMIT_INTERVAL_MS: String(commitIntervalMs),
          // A killed member is dropped from the group after the session timeout: keep it short.
          KAFKA_SESSION_TIMEOUT_MS: '10000',
          KAFKA_HEARTBEAT_INTERVAL_MS: '1000',
          NOTIFIER_RETRY_MAX_MS: '2000',
        }),
      );

    say('starting order-api, two relays and the notifier');
    const api = await started(options.startService('order-api', 'order-api', env));
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
        await response?.arrayBuffer();
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
          timeoutMs: recoveryTimeoutMs,
          intervalMs: 200,
          what: 'the API to accept a probe order',
        });
        await waitFor(
          async () =>
            (
              await doc.send(
                new GetCommand({
                  TableName: options.notificationsTable,
                  Key: { pk: `AGGREGATE#${orderId}`, sk: 'NOTIFICATION#0000000001' },
                  ConsistentRead: true,
                }),
              )
            ).Item !== undefined,
          { timeoutMs: recoveryTimeoutMs, intervalMs: 100, what: 'the probe order to be notified' },
        );
        return Date.now() - since;
      } catch {
        return undefined;
      }
    };
    const leader = async (): Promise<ChaosService> => {
      let found: ChaosService | undefined;
      await waitFor(
        async () => {
          for (const relay of relays) if ((await metric(relay, 'relay_leader')) === 1) found = relay;
          return found !== undefined;
        },
        { timeoutMs: recoveryTimeoutMs, intervalMs: 200, what: 'a relay to lead' },
      );
      return found!;
    };

    const faults: FaultRecord[] = [];
    const at = (share: number) => (share + (random() - 0.5) * 0.04) * durationS;
    const untilLoadTime = async (seconds: number) => {
      const wait = loadStarted + seconds * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
    };
    // Draw every fault's time, injected or not, so a seed gives the same times whatever the selection.
    const faultTimes = new Map(ALL_FAULTS.map((fault) => [fault, at(FAULT_AT[fault])]));
    const wanted = new Set(options.faults);

    // 1. The relay leader is SIGKILLed; the standby must take over; the killed one comes back as a standby.
    if (wanted.has('relay-sigkill')) {
      await untilLoadTime(faultTimes.get('relay-sigkill')!);
      const victim = await leader();
      const injected = Date.now();
      await victim.kill();
      services.delete(victim);
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
    if (wanted.has('relay-sigstop')) {
      await untilLoadTime(faultTimes.get('relay-sigstop')!);
      const victim = await leader();
      const injected = Date.now();
      victim.child.kill('SIGSTOP');
      const recovery = probe(injected);
      await sleep(leaseMs * 2);
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
        name: `SIGSTOP relay leader ${(leaseMs * 2) / 1000} s (lease ${leaseMs / 1000} s), SIGCONT`,
        injectedAtS: (injected - loadStarted) / 1000,
        recoveryMs,
        detail: `${victim.name} frozen; leaders after: ${leaders.join(', ') || 'none'}`,
        ...(steppedDown ? {} : { problem: 'not exactly one leader (other than the resumed relay) within 30 s' }),
      });
    }

    // 3. The notifier is SIGKILLed while it works, with effects stored whose offsets are not committed yet.
    if (wanted.has('notifier-sigkill')) {
      await untilLoadTime(faultTimes.get('notifier-sigkill')!);
      const storedBefore = (await metric(notifier, 'notifier_events_processed_total', 'outcome="stored"')) ?? 0;
      await waitFor(
        async () =>
          ((await metric(notifier, 'notifier_events_processed_total', 'outcome="stored"')) ?? 0) > storedBefore,
        { timeoutMs: 30_000, intervalMs: 50, what: 'the notifier to store an effect' },
      ).catch(() => undefined);
      const injected = Date.now();
      const victim = notifier;
      await victim.kill();
      services.delete(victim);
      const recovery = probe(injected);
      notifier = await startNotifier();
      const recoveryMs = await recovery;
      // Events stored before the kill but not committed come again: the inbox skips them as duplicates.
      const duplicates = await metric(notifier, 'notifier_events_processed_total', 'outcome="duplicate"');
      faults.push({
        name: `SIGKILL notifier between effect and commit (commit every ${commitIntervalMs / 1000} s)`,
        injectedAtS: (injected - loadStarted) / 1000,
        recoveryMs,
        detail: duplicates
          ? `${victim.name} killed; ${duplicates} redelivered events skipped as duplicates by ${notifier.name}`
          : `${victim.name} killed; no redelivery seen (the kill landed after a commit this time)`,
      });
    }

    // 4. Kafka is stopped and started again (same data): relays and the notifier reconnect.
    if (wanted.has('kafka-restart')) {
      if (!options.kafka) throw new Error('the kafka-restart fault needs options.kafka (a broker the run may stop)');
      await untilLoadTime(faultTimes.get('kafka-restart')!);
      const injected = Date.now();
      await options.kafka.stop();
      const stoppedMs = Date.now() - injected;
      const recovery = probe(injected);
      await options.kafka.start();
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
    await untilLoadTime(durationS);
    loadRunning = false;
    await load;
    await Promise.allSettled([...inFlight]);
    clearInterval(progress);
    say(
      `load stopped after ${elapsedS().toFixed(0)} s: ${counts.created} orders acknowledged, ${counts.cancelled} cancels; waiting for the pipeline to drain`,
    );

    // Drain: every acknowledged event notified (bounded; the verifier reports whatever is still missing).
    const expectedNotifications = counts.created + counts.cancelled;
    await waitFor(async () => (await countNotifications(doc, options.notificationsTable)) >= expectedNotifications, {
      timeoutMs: recoveryTimeoutMs,
      intervalMs: 1000,
      what: `${expectedNotifications} notifications`,
    }).catch((error: unknown) => say(String(error)));

    say('verifying: reading the topic from the beginning and scanning the Notifications table');
    const kafkaEvents = await readWholeTopic(options.brokers, options.topic);
    const stored = await scanNotifications(doc, options.notificationsTable);
    const invariants = verifyHistory({ acknowledged: [...acknowledged.values()], kafka: kafkaEvents, ...stored });
    const report = [
      `Chaos run: seed ${seed}, ${durationS} s at ${rate} orders/s; ${counts.created} orders acknowledged (${counts.createFailed} refused or failed), ${counts.cancelled} cancels acknowledged (${counts.cancelFailed} refused or failed)`,
      `Kafka: ${kafkaEvents.length} records (${new Set(kafkaEvents.map((e) => e.eventId)).size} distinct events); Notifications: ${stored.notifications.length} notifications, ${stored.inbox.length} inbox markers`,
      '',
      formatReport(faults, invariants),
    ].join('\n');
    return { faults, invariants, counts, report, failed: runFailed(faults, invariants) };
  } finally {
    await Promise.allSettled([...services].map((service) => service.stop()));
  }
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
export async function readWholeTopic(brokers: string[], topic: string): Promise<KafkaEvent[]> {
  const kafka = createKafka({ clientId: 'chaos-verifier', brokers, logger: quiet });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  await admin.disconnect();
  const consumer = kafka.consumer({
    groupId: `chaos-verifier-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
    allowAutoTopicCreation: false,
  });
  const events: KafkaEvent[] = [];
  const reached = new Map<number, bigint>();
  await consumer.connect();
  try {
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
          timestamp: Number(message.timestamp),
          occurredAt: envelope.occurredAt,
        });
        reached.set(partition, BigInt(message.offset) + 1n);
      },
    });
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
