import { DEAD_LETTER_HEADERS, headerText, type DeadLetterOrigin } from './deadLetterHeaders';
import { deadLetterReasonFor, type DeadLetterReason } from './deadLetterReasons';

type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** What {@link buildDeadLetterHeaders} needs to know about one failure. */
export interface DeadLetterHeadersOptions {
  origin: DeadLetterOrigin;
  /** The error's stable code; the reason is derived from it unless `reason` is given. */
  errorCode: string;
  errorMessage: string;
  /** Defaults to the reason of `errorCode`. */
  reason?: DeadLetterReason;
  /** Class of the error (default `AppError`). */
  errorClassName?: string;
  /** The consumed record that failed (notifier letters). */
  record?: { topic: string; partition: number; offset: string };
  /** Where the outbox item was read (relay letters; notifier letters carry it in the original headers). */
  source?: { shardId: string; sequenceNumber: string };
  /** Headers of the failed record, kept as they are (notifier letters); a first failure time among them wins. */
  originalHeaders?: Record<string, HeaderValue>;
  /** When the record first failed, if known from elsewhere (say, how long it was held). */
  firstFailedAt?: Date;
  /** This letter's time (default now). */
  now?: Date;
}

/**
 * The headers of a dead letter: the failed record's own headers, then the contract's
 * (`__connect.errors.*` plus reason, error code, origin, first failure and letter time, source
 * shard and sequence number). The one builder both the relay and the notifier use.
 */
export function buildDeadLetterHeaders(options: DeadLetterHeadersOptions): Record<string, HeaderValue> {
  const now = options.now ?? new Date();
  const original = options.originalHeaders ?? {};
  const firstFailedAt =
    headerText(original[DEAD_LETTER_HEADERS.firstFailedAt]) ?? (options.firstFailedAt ?? now).toISOString();
  const headers: Record<string, HeaderValue> = {
    ...original,
    [DEAD_LETTER_HEADERS.reason]: options.reason ?? deadLetterReasonFor(options.errorCode),
    [DEAD_LETTER_HEADERS.errorCode]: options.errorCode,
    [DEAD_LETTER_HEADERS.exceptionClassName]: options.errorClassName ?? 'AppError',
    [DEAD_LETTER_HEADERS.exceptionMessage]: options.errorMessage.slice(0, 1000),
    [DEAD_LETTER_HEADERS.origin]: options.origin,
    [DEAD_LETTER_HEADERS.firstFailedAt]: firstFailedAt,
    [DEAD_LETTER_HEADERS.deadLetteredAt]: now.toISOString(),
  };
  if (options.record) {
    headers[DEAD_LETTER_HEADERS.topic] = options.record.topic;
    headers[DEAD_LETTER_HEADERS.partition] = String(options.record.partition);
    headers[DEAD_LETTER_HEADERS.offset] = options.record.offset;
  }
  if (options.source) {
    headers[DEAD_LETTER_HEADERS.sourceShard] = options.source.shardId;
    headers[DEAD_LETTER_HEADERS.sourceSequenceNumber] = options.source.sequenceNumber;
  }
  return headers;
}

/** The value of a relay dead letter: the raw outbox item as read from the stream, as JSON. */
export function relayDeadLetterValue(item: unknown): string {
  return JSON.stringify(item ?? null);
}
