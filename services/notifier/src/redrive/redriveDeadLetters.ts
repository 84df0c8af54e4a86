import type { IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_ONLY_HEADERS,
  deadLetterTopicFor,
  EVENT_HEADERS,
  headerText,
  readDeadLetter,
  withTimeout,
  type DeadLetterOrigin,
  type Logger,
} from '@outbox/shared';
import type { RedriveLease } from './RedriveLease';

/** Options for {@link redriveDeadLetters}. */
export interface RedriveOptions {
  kafka: Kafka;
  /** The main topic; dead letters are read from `<topic>.dlq`. */
  topic: string;
  /** Consumer group that remembers how far the DLQ was redriven (default `<topic>.dlq.redrive`). */
  groupId?: string;
  /** Report what would move, move nothing, commit nothing. */
  dryRun: boolean;
  logger: Logger;
  /** Give up when the DLQ's end offsets are not reached within this time (default 60 s). */
  timeoutMs?: number;
  /** Taken before reading and held (renewed) until the end, so only one run works at a time. */
  lease: RedriveLease;
  /** How often the lease is renewed (default a third of a minute). */
  leaseRenewMs?: number;
}

/** What a redrive does with a letter: replay it onto the main topic, or leave it (reported only). */
export type RedriveAction = 'replay' | 'leave';

/** One dead letter a redrive saw. */
export interface RedrivenMessage {
  partition: number;
  offset: string;
  key: string | null;
  origin: DeadLetterOrigin | 'unknown';
  action: RedriveAction;
  eventId?: string;
  eventType?: string;
  seq?: string;
  reason?: string;
  errorCode?: string;
  firstFailedAt?: string;
  sourceShard?: string;
  sourceSequenceNumber?: string;
}

/** What a redrive did. */
export interface RedriveReport {
  dryRun: boolean;
  from: string;
  to: string;
  groupId: string;
  /** The DLQ's end offsets (read-committed) when the redrive started: it stops there. */
  endOffsets: Record<string, string>;
  /** Letters replayed (or, in a dry run, to be replayed) onto the main topic. */
  moved: number;
  /** Letters left in the DLQ: relay letters (raw outbox items, not events) and letters of unknown origin. */
  left: number;
  byReason: Record<string, number>;
  messages: RedrivenMessage[];
}

/**
 * Where a letter goes. Notifier letters hold the event as consumed: replayed. Relay letters hold a
 * raw outbox item that never became an event: replaying it would put a non-event on the main
 * topic, so it is reported and left for a fix at the source. A letter without an origin header
 * (written before the contract) is replayed only when it carries an event id, as events do.
 */
function routeOf(origin: DeadLetterOrigin | 'unknown', headers: IHeaders | undefined): RedriveAction {
  if (origin === 'notifier') return 'replay';
  if (origin === 'relay') return 'leave';
  return headerText(headers?.[EVENT_HEADERS.eventId]) === undefined ? 'leave' : 'replay';
}

/** The headers a replayed record carries: the original ones, the first failure time, and a redrive count. */
function redriveHeaders(headers: IHeaders | undefined, now: Date): IHeaders {
  const out: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!DEAD_LETTER_ONLY_HEADERS.includes(name) && value !== undefined) out[name] = value;
  }
  const count = Number(headerText(headers?.[DEAD_LETTER_HEADERS.redriveCount]) ?? '0');
  out[DEAD_LETTER_HEADERS.redriveCount] = String((Number.isFinite(count) ? count : 0) + 1);
  out[DEAD_LETTER_HEADERS.redrivenAt] = now.toISOString();
  return out;
}

function describe(partition: number, message: KafkaMessage): RedrivenMessage {
  const h = message.headers;
  const letter = readDeadLetter(h);
  return {
    partition,
    offset: message.offset,
    key: message.key?.toString() ?? null,
    origin: letter.origin,
    action: routeOf(letter.origin, h),
    eventId: headerText(h?.[EVENT_HEADERS.eventId]),
    eventType: headerText(h?.[EVENT_HEADERS.eventType]),
    seq: headerText(h?.[EVENT_HEADERS.seq]),
    reason: letter.reason,
    errorCode: letter.errorCode,
    firstFailedAt: letter.firstFailedAt,
    sourceShard: letter.sourceShard,
    sourceSequenceNumber: letter.sourceSequenceNumber,
  };
}

/**
 * Replays the notifier's dead letters onto the main topic, keyed as before (so each lands on its
 * aggregate's partition), in DLQ order, under a lease so only one run works at a time.
 *
 * - Reads committed records only (`readUncommitted: false`): a letter of an aborted relay
 *   transaction is never replayed.
 * - Stops at the DLQ's end offsets taken at start (letters that arrive meanwhile wait for the next
 *   run). A transactional writer leaves a commit marker after its last letter, which no consumer
 *   ever receives; the end counts as reached when the consumer's position passes it, as kafkajs
 *   reports for every batch, markers included.
 * - Each letter's offset is committed only after Kafka acknowledged its copy: an interrupted
 *   redrive resumes without losing any, at worst re-sending one, which the notifier's inbox absorbs.
 */
export async function redriveDeadLetters(options: RedriveOptions): Promise<RedriveReport> {
  const { kafka, topic, dryRun, logger, lease } = options;
  const dlq = deadLetterTopicFor(topic);
  const groupId = options.groupId ?? `${dlq}.redrive`;
  const report: RedriveReport = {
    dryRun,
    from: dlq,
    to: topic,
    groupId,
    endOffsets: {},
    moved: 0,
    left: 0,
    byReason: {},
    messages: [],
  };

  await lease.acquire();
  let finish: () => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  // A failure may come before anything awaits `finished` (a lost lease while reading offsets).
  finished.catch(() => undefined);
  const renewal = setInterval(() => lease.renew().catch(fail), options.leaseRenewMs ?? 20_000);
  renewal.unref();
  try {
    await run();
  } finally {
    clearInterval(renewal);
    await lease.release();
  }
  report.messages.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  return report;

  async function run(): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    const remaining = new Set<number>();
    const ends = new Map<number, bigint>();
    try {
      // ListOffsets defaults to read-committed: `high` is the last stable offset.
      const [offsets, committed] = await Promise.all([
        admin.fetchTopicOffsets(dlq),
        admin.fetchOffsets({ groupId, topics: [dlq] }),
      ]);
      const committedAt = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      for (const { partition, high, low } of offsets) {
        ends.set(partition, BigInt(high));
        report.endOffsets[String(partition)] = high;
        const at = committedAt.get(partition);
        const from = at === undefined || at < BigInt(low) ? BigInt(low) : at;
        if (from < BigInt(high)) remaining.add(partition);
      }
    } finally {
      await admin.disconnect();
    }
    if (remaining.size === 0) return;

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, readUncommitted: false });
    const done = async (partition: number, position: bigint) => {
      if (!remaining.has(partition) || position < (ends.get(partition) ?? 0n)) return;
      remaining.delete(partition);
      consumer.pause([{ topic: dlq, partitions: [partition] }]);
      // Past a trailing commit marker too, so the next run does not read it again.
      if (!dryRun) await consumer.commitOffsets([{ topic: dlq, partition, offset: String(ends.get(partition)) }]);
      if (remaining.size === 0) finish();
    };
    consumer.on(consumer.events.CRASH, ({ payload }) => fail(payload.error));
    // Batches of commit markers only never reach eachBatch; kafkajs still reports how far they went.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic !== dlq) return;
      done(payload.partition, BigInt(payload.lastOffset) + 1n).catch(fail);
    });
    try {
      if (!dryRun) await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topic: dlq, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
          const { partition } = batch;
          const end = ends.get(partition) ?? 0n;
          for (const message of batch.messages) {
            if (!remaining.has(partition) || BigInt(message.offset) >= end) break;
            const entry = describe(partition, message);
            if (!dryRun) {
              if (entry.action === 'replay') {
                await producer.send({
                  topic,
                  acks: -1,
                  messages: [
                    { key: message.key, value: message.value, headers: redriveHeaders(message.headers, new Date()) },
                  ],
                });
              }
              await consumer.commitOffsets([{ topic: dlq, partition, offset: String(BigInt(message.offset) + 1n) }]);
            }
            resolveOffset(message.offset);
            report.messages.push(entry);
            if (entry.action === 'replay') report.moved += 1;
            else report.left += 1;
            const reason = entry.reason ?? 'unknown';
            report.byReason[reason] = (report.byReason[reason] ?? 0) + 1;
            logger.info(
              { ...entry, dryRun },
              entry.action === 'leave' ? 'left in the DLQ (not an event)' : dryRun ? 'would redrive' : 'redriven',
            );
            await heartbeat();
          }
          // The batch's last offset counts commit markers, which never appear among its messages.
          await done(partition, BigInt(batch.lastOffset()) + 1n);
        },
      });
      await withTimeout(finished, options.timeoutMs ?? 60_000, `redriving ${dlq} to its end offsets`);
    } finally {
      await consumer.disconnect().catch(() => undefined);
      if (!dryRun) await producer.disconnect().catch(() => undefined);
    }
  }
}
