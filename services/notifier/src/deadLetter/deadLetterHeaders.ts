/** Header names a dead letter carries besides the original record's headers. */
export const DEAD_LETTER_HEADERS = {
  reason: 'dead-letter-reason',
  errorCode: 'error-code',
  errorMessage: 'error-message',
  originalTopic: 'original-topic',
  originalPartition: 'original-partition',
  originalOffset: 'original-offset',
  firstFailedAt: 'first-failed-at',
  deadLetteredAt: 'dead-lettered-at',
  redriveCount: 'redrive-count',
  redrivenAt: 'redriven-at',
} as const;

/** A Kafka header value as text (kafkajs gives Buffers, arrays or strings). */
export function headerText(value: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}
