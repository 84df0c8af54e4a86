import { DEAD_LETTER_HEADERS, DEAD_LETTER_ORIGINS, headerText, type DeadLetterOrigin } from './deadLetterHeaders';

type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** The contract's facts read back from a dead letter's headers. */
export interface DeadLetterInfo {
  /** `unknown` for a letter without (or with an unknown) origin header. */
  origin: DeadLetterOrigin | 'unknown';
  reason?: string;
  errorCode?: string;
  errorMessage?: string;
  firstFailedAt?: string;
  topic?: string;
  partition?: string;
  offset?: string;
  sourceShard?: string;
  sourceSequenceNumber?: string;
}

/** Names of the headers a dead letter adds to the failed record's own; a redrive strips them. */
export const DEAD_LETTER_ONLY_HEADERS: readonly string[] = [
  DEAD_LETTER_HEADERS.topic,
  DEAD_LETTER_HEADERS.partition,
  DEAD_LETTER_HEADERS.offset,
  DEAD_LETTER_HEADERS.exceptionClassName,
  DEAD_LETTER_HEADERS.exceptionMessage,
  DEAD_LETTER_HEADERS.reason,
  DEAD_LETTER_HEADERS.errorCode,
  DEAD_LETTER_HEADERS.origin,
  DEAD_LETTER_HEADERS.deadLetteredAt,
];

/** Reads the contract's headers of a dead letter. */
export function readDeadLetter(headers: Record<string, HeaderValue> | undefined): DeadLetterInfo {
  const h = headers ?? {};
  const origin = headerText(h[DEAD_LETTER_HEADERS.origin]);
  return {
    origin: (DEAD_LETTER_ORIGINS as readonly string[]).includes(origin ?? '')
      ? (origin as DeadLetterOrigin)
      : 'unknown',
    reason: headerText(h[DEAD_LETTER_HEADERS.reason]),
    errorCode: headerText(h[DEAD_LETTER_HEADERS.errorCode]),
    errorMessage: headerText(h[DEAD_LETTER_HEADERS.exceptionMessage]),
    firstFailedAt: headerText(h[DEAD_LETTER_HEADERS.firstFailedAt]),
    topic: headerText(h[DEAD_LETTER_HEADERS.topic]),
    partition: headerText(h[DEAD_LETTER_HEADERS.partition]),
    offset: headerText(h[DEAD_LETTER_HEADERS.offset]),
    sourceShard: headerText(h[DEAD_LETTER_HEADERS.sourceShard]),
    sourceSequenceNumber: headerText(h[DEAD_LETTER_HEADERS.sourceSequenceNumber]),
  };
}
