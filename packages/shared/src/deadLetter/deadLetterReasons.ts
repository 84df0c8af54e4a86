/**
 * Every reason a dead letter can carry, and what it means. A reason is part of the contract
 * (alerts and the redrive group by it); the error code beside it may be more specific.
 */
export const DEAD_LETTER_REASONS = {
  /** relay: a stream record that is not a readable change record. */
  unreadable_record: 'relay',
  /** relay or notifier: not valid JSON. */
  invalid_json: 'both',
  /** relay or notifier: the item or record is not a valid event envelope. */
  invalid_envelope: 'both',
  /** relay: one record larger than Kafka accepts. */
  too_large: 'relay',
  /** notifier: an event type it does not know. */
  unknown_type: 'notifier',
  /** notifier: an envelope schema version it does not support. */
  unsupported_schema_version: 'notifier',
  /** notifier: the payload does not match the event type's schema. */
  schema_violation: 'notifier',
  /** notifier: an earlier seq of the aggregate never arrived within the gap timeout. */
  gap: 'notifier',
  /** notifier: the webhook answered a permanent error (4xx other than 408 and 429). */
  webhook_rejected: 'notifier',
  /** notifier: the webhook kept failing transiently until the per-event attempt or time budget ran out. */
  webhook_exhausted: 'notifier',
  /** notifier: DynamoDB refused the inbox write as malformed. */
  inbox_rejected: 'notifier',
  /** Anything else that can never succeed (the error code says what). */
  unprocessable: 'both',
} as const;

/** One of {@link DEAD_LETTER_REASONS}. */
export type DeadLetterReason = keyof typeof DEAD_LETTER_REASONS;

const byCode: Record<string, DeadLetterReason> = {
  'event.unreadable_record': 'unreadable_record',
  'event.invalid_json': 'invalid_json',
  'event.invalid_envelope': 'invalid_envelope',
  'event.unknown_type': 'unknown_type',
  'event.unsupported_schema_version': 'unsupported_schema_version',
  'event.schema_violation': 'schema_violation',
  'event.gap': 'gap',
  'publish.record_too_large': 'too_large',
  too_large: 'too_large',
  'webhook.rejected': 'webhook_rejected',
  'webhook.exhausted': 'webhook_exhausted',
  'inbox.rejected': 'inbox_rejected',
};

/** The dead-letter reason of an `AppError` code; a code without its own reason is `unprocessable`. */
export function deadLetterReasonFor(code: string): DeadLetterReason {
  return byCode[code] ?? 'unprocessable';
}
