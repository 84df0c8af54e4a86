import type { IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { deadLetterTopicFor, EVENT_HEADERS, withTimeout, type Logger } from '@outbox/shared';
import { DEAD_LETTER_HEADERS, headerText } from '../deadLetter/deadLetterHeaders';

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
}

/** One dead letter a redrive moved (or would move). */
export interface RedrivenMessage {
  partition: number;
  offset: string;
  key: string | null;
  eventId?: string;
  eventType?: string;
  seq?: string;
  reason?: string;
  errorCode?: string;
  firstFailedAt?: string;
}

/** What a redrive did. */
export interface RedriveReport {
  dryRun: boolean;
  from: string;
  to: string;
  groupId: string;
  /** The DLQ's end offsets when the redrive started: it stops there. */
  endOffsets: Record<string, string>;
  moved: number;
  byReason: Record<string, number>;
  messages: RedrivenMessage[];
}

const deadLetterOnly = new Set<string>([
  DEAD_LETTER_HEADERS.reason,
  DEAD_LETTER_HEADERS.errorCode,
  DEAD_LETTER_HEADERS.errorMessage,
  DEAD_LETTER_HEADERS.originalTopic,
  DEAD_LETTER_HEADERS.originalPartition,
  DEAD_LETTER_HEADERS.originalOffset,
  DEAD_LETTER_HEADERS.deadLetteredAt,
  DEAD_LETTER_HEADERS.redriveCount,
  DEAD_LETTER_HEADERS.redrivenAt,
]);

/** The headers a redriven record carries: the original ones, the first failure time, and a redrive count. */
function redriveHeaders(headers: IHeaders | undefined, now: Date): IHeaders {
  const out: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!deadLetterOnly.has(name) && value !== undefined) out[name] = value;
  }
  const count = Number(headerText(headers?.[DEAD_LETTER_HEADERS.redriveCount]) ?? '0');
  out[DEAD_LETTER_HEADERS.redriveCount] = String((Number.isFinite(count) ? count : 0) + 1);
  out[DEAD_LETTER_HEADERS.redrivenAt] = now.toISOString();
  return out;
}

function describe(partition: number, message: KafkaMessage): RedrivenMessage {
  const h = message.headers;
  return {
    partition,
    offset: message.offset,
    key: message.key?.toString() ?? null,
    eventId: headerText(h?.[EVENT_HEADERS.eventId]),
    eventType: headerText(h?.[EVENT_HEADERS.eventType]),
    seq: headerText(h?.[EVENT_HEADERS.seq]),
    reason: headerText(h?.[DEAD_LETTER_HEADERS.reason]),
    errorCode: headerText(h?.[DEAD_LETTER_HEADERS.errorCode]),
    firstFailedAt: headerText(h?.[DEAD_LETTER_HEADERS.firstFailedAt]),
  };
}

/**
 * Replays dead letters onto the main topic, keyed as before (so each lands on its aggregate's
 * partition), in DLQ order. Reads from where the redrive group last committed up to the DLQ's
 * end offsets taken at start, so letters that arrive meanwhile (say, a redriven event failing
 * again) wait for the next run. Each letter's offset is committed only after Kafka acknowledged
 * its copy: an interrupted redrive resumes without losing any, at worst re-sending one, which
 * the notifier's inbox absorbs.
 */
export async function redriveDeadLetters(options: RedriveOptions): Promise<RedriveReport> {
  const { kafka, topic, dryRun, logger } = options;
  const dlq = deadLetterTopicFor(topic);
  const groupId = options.groupId ?? `${dlq}.redrive`;
  const report: RedriveReport = {
    dryRun,
    from: dlq,
    to: topic,
    groupId,
    endOffsets: {},
    moved: 0,
    byReason: {},
    messages: [],
  };

  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Set<number>();
  const ends = new Map<number, bigint>();
  try {
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
  if (remaining.size === 0) return report;

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  let finish: () => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => fail(payload.error));
  try {
    if (!dryRun) await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: dlq, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message, pause }) => {
        const end = ends.get(partition) ?? 0n;
        if (BigInt(message.offset) >= end) {
          pause();
          return;
        }
        const entry = describe(partition, message);
        if (!dryRun) {
          await producer.send({
            topic,
            acks: -1,
            messages: [
              { key: message.key, value: message.value, headers: redriveHeaders(message.headers, new Date()) },
            ],
          });
          await consumer.commitOffsets([{ topic: dlq, partition, offset: String(BigInt(message.offset) + 1n) }]);
        }
        report.messages.push(entry);
        report.moved += 1;
        const reason = entry.reason ?? 'unknown';
        report.byReason[reason] = (report.byReason[reason] ?? 0) + 1;
        logger.info({ ...entry, dryRun }, dryRun ? 'would redrive' : 'redriven');
        if (BigInt(message.offset) + 1n >= end) {
          pause();
          remaining.delete(partition);
          if (remaining.size === 0) finish();
        }
      },
    });
    await withTimeout(finished, options.timeoutMs ?? 60_000, `redriving ${dlq} to its end offsets`);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    if (!dryRun) await producer.disconnect().catch(() => undefined);
  }
  report.messages.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  return report;
}
