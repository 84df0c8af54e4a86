import { EVENT_HEADERS } from '../events/eventHeaders';

/**
 * Header names of every dead letter on `<topic>.dlq`, whoever wrote it (relay or notifier).
 *
 * Where Kafka Connect has a name for the fact (its `DeadLetterQueueReporter`), we use it, so DLQ
 * tooling built for Connect reads ours: the original record's topic, partition and offset, and
 * the exception's class name and message. The rest are our own.
 */
export const DEAD_LETTER_HEADERS = {
  /** Topic of the record that failed (notifier letters only: relay letters come from a stream, not a topic). */
  topic: '__connect.errors.topic',
  /** Partition of the record that failed, decimal (notifier letters only). */
  partition: '__connect.errors.partition',
  /** Offset of the record that failed, decimal (notifier letters only). */
  offset: '__connect.errors.offset',
  /** Class of the error (`AppError` for our own errors). */
  exceptionClassName: '__connect.errors.exception.class.name',
  /** The error's message, at most 1000 characters. */
  exceptionMessage: '__connect.errors.exception.message',
  /** One of {@link DEAD_LETTER_REASONS}: why the record was dead-lettered. */
  reason: 'dead-letter-reason',
  /** The `AppError` code, e.g. `event.invalid_envelope`. */
  errorCode: 'error-code',
  /** Who wrote the letter: `relay` (the value is a raw outbox item) or `notifier` (the value is the event as consumed). */
  origin: 'dead-letter-origin',
  /** ISO time the record first failed; kept when a redriven record fails again. */
  firstFailedAt: 'first-failed-at',
  /** ISO time this letter was written. */
  deadLetteredAt: 'dead-lettered-at',
  /** Stream shard the outbox item was read from (the relay sets it on events and letters alike). */
  sourceShard: EVENT_HEADERS.sourceShard,
  /** Stream sequence number of the outbox item. */
  sourceSequenceNumber: EVENT_HEADERS.sourceSequenceNumber,
  /** Set by a redrive on the record it replays: how often it was redriven. */
  redriveCount: 'redrive-count',
  /** Set by a redrive on the record it replays: when. */
  redrivenAt: 'redriven-at',
} as const;

/** Who wrote a dead letter, which also says what its value is. */
export const DEAD_LETTER_ORIGINS = ['relay', 'notifier'] as const;

/** `relay`: the value is the raw outbox item (JSON) that never became an event; `notifier`: the value is the consumed record's value, unchanged. */
export type DeadLetterOrigin = (typeof DEAD_LETTER_ORIGINS)[number];

/** A Kafka header value as text (kafkajs gives Buffers, arrays or strings). */
export function headerText(value: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}
