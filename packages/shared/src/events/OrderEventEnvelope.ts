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
 * record value. `seq` is the aggregate's version after the change (1 for creation).
 */
export interface OrderEventEnvelope<P = Record<string, unknown>> {
  eventId: string;
  eventType: OrderEventType | (string & {});
  schemaVersion: number;
  aggregateType: string;
  aggregateId: string;
  seq: number;
  /** ISO-8601 time the change was committed by the API. */
  occurredAt: string;
  /** W3C trace context of the request that caused the event: the API's server span. */
  traceparent?: string;
  /** W3C `tracestate` that came with `traceparent` (vendor entries), when there was one. */
  tracestate?: string;
  payload: P;
}

/** An order line as it travels in events: money in integer minor units. */
export interface OrderLinePayload {
  productId: string;
  quantity: number;
  unitPriceMinor: number;
  lineTotalMinor: number;
}

/** Payload of `OrderCreated`. */
export interface OrderCreatedPayload {
  orderId: string;
  customerId: string;
  status: string;
  currency: string;
  totalMinor: number;
  items: OrderLinePayload[];
  createdAt: string;
}
