import { randomUUID } from 'node:crypto';
import { outboxTimeIndexKeys, type OrderEventEnvelope } from '@outbox/shared';

/**
 * An `OrderCreated` envelope (schema version 1) for order `orderId`, seq 1, with a one-line order
 * of 25.00 USD for `customer-1`; `overrides` replace whole fields.
 */
export function orderCreated(
  orderId: string = randomUUID(),
  overrides: Partial<OrderEventEnvelope> = {},
): OrderEventEnvelope {
  const now = new Date().toISOString();
  return {
    eventId: randomUUID(),
    eventType: 'OrderCreated',
    schemaVersion: 1,
    aggregateType: 'Order',
    aggregateId: orderId,
    seq: 1,
    occurredAt: now,
    payload: {
      orderId,
      customerId: 'customer-1',
      status: 'CREATED',
      currency: 'USD',
      totalMinor: 2500,
      items: [{ productId: 'sku-1', quantity: 2, unitPriceMinor: 1250, lineTotalMinor: 2500 }],
      createdAt: now,
    },
    ...overrides,
  };
}

/** An `OrderCancelled` envelope for order `orderId` at `seq`, the cancellation of {@link orderCreated}'s order. */
export function orderCancelled(
  orderId: string,
  seq: number,
  overrides: Partial<OrderEventEnvelope> = {},
): OrderEventEnvelope {
  const now = new Date().toISOString();
  return {
    eventId: randomUUID(),
    eventType: 'OrderCancelled',
    schemaVersion: 1,
    aggregateType: 'Order',
    aggregateId: orderId,
    seq,
    occurredAt: now,
    payload: {
      orderId,
      customerId: 'customer-1',
      status: 'CANCELLED',
      currency: 'USD',
      totalMinor: 2500,
      cancelledAt: now,
      reason: 'changed my mind',
    },
    ...overrides,
  };
}

/** What {@link outboxItem} may be told; the rest is generated. */
export interface OutboxItemFields {
  aggregateId?: string;
  seq?: number;
  occurredAt?: string;
  eventId?: string;
  /** Default `{ orderId: aggregateId }`: the relay passes payloads through unread. */
  payload?: Record<string, unknown>;
}

/**
 * An OrderOutbox item the way order-api writes it: an `OrderCreated` envelope, its TTL
 * (`expiresAt`, a day on) and the time-index keys the backfill reads.
 */
export function outboxItem(
  fields: OutboxItemFields = {},
): Record<string, unknown> & { aggregateId: string; seq: number; eventId: string } {
  const aggregateId = fields.aggregateId ?? randomUUID();
  const seq = fields.seq ?? 1;
  const occurredAt = fields.occurredAt ?? new Date().toISOString();
  const envelope = orderCreated(aggregateId, {
    seq,
    occurredAt,
    eventId: fields.eventId ?? randomUUID(),
    payload: fields.payload ?? { orderId: aggregateId },
  });
  return {
    ...envelope,
    expiresAt: Math.floor(Date.now() / 1000) + 86400,
    ...outboxTimeIndexKeys({ aggregateId, seq, occurredAt }),
  };
}
