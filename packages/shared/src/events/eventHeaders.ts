/** Kafka header names carried by every published order event. */
export const EVENT_HEADERS = {
  eventId: 'event-id',
  eventType: 'event-type',
  seq: 'event-seq',
  schemaVersion: 'schema-version',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  sourceShard: 'source-shard',
  sourceSequenceNumber: 'source-sequence-number',
} as const;
