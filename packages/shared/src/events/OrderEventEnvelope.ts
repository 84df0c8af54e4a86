import { z } from 'zod';

/** Event types the order aggregate emits. */
export const ORDER_EVENT_TYPES = ['OrderCreated', 'OrderCancelled'] as const;

/** One of {@link ORDER_EVENT_TYPES}. */
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

/**
 * The value of an `event_type` metric label: a known type, or `unknown` for anything else, so a
 * writer inventing types cannot create unbounded series.
 */
export function eventTypeLabel(eventType: unknown): OrderEventType | 'unknown' {
  return (ORDER_EVENT_TYPES as readonly unknown[]).includes(eventType) ? (eventType as OrderEventType) : 'unknown';
}

/** The current envelope schema version. */
export const ENVELOPE_SCHEMA_VERSION = 1;

/**
 * The versioned JSON envelope every outbox event travels in, from the outbox item to the Kafka
 * record value: the one source of the envelope's type, of the validation every reader applies and
 * of `orderEventEnvelope.schema.json` (`npm run generate`). Strict: an unknown field is an error.
 */
export const envelopeSchema = z
  .strictObject({
    eventId: z.string().min(1).max(128).describe('Unique id; consumers deduplicate on it.'),
    eventType: z
      .string()
      .min(1)
      .meta({ description: 'What happened; selects the payload schema.', examples: [...ORDER_EVENT_TYPES] }),
    schemaVersion: z.number().int().min(1).describe('Version of the payload schema of this event type.'),
    aggregateType: z
      .string()
      .min(1)
      .meta({ examples: ['Order'] }),
    aggregateId: z.string().min(1).max(128).describe('The aggregate (order) id; also the Kafka record key.'),
    seq: z.number().int().min(1).describe('Aggregate version after the change; gap-free per aggregate.'),
    occurredAt: z.iso.datetime({ offset: true }).describe('ISO-8601 time the change was committed by the API.'),
    traceparent: z
      .string()
      .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
      .optional()
      .describe("W3C trace context of the request that caused the event: the API's server span."),
    tracestate: z
      .string()
      .max(512)
      .optional()
      .describe('W3C `tracestate` that came with `traceparent` (vendor entries), when there was one.'),
    payload: z
      .record(z.string(), z.unknown())
      .describe('The event data; its schema depends on eventType and schemaVersion.'),
  })
  .meta({
    title: 'OrderEventEnvelope',
    description: 'Versioned envelope of every order event published by the outbox relay. Kafka key = aggregateId.',
  });

/**
 * An envelope (inferred from {@link envelopeSchema}) whose payload has the type `P`. `seq` is the
 * aggregate's version after the change (1 for creation).
 */
export type OrderEventEnvelope<P = Record<string, unknown>> = Omit<z.infer<typeof envelopeSchema>, 'payload'> & {
  payload: P;
};
