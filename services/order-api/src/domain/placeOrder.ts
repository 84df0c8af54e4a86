import { randomUUID } from 'node:crypto';
import { AppError, ENVELOPE_SCHEMA_VERSION, type OrderCreatedPayload, type OrderEventEnvelope } from '@outbox/shared';
import type { Order } from './Order';
import { ValidationError } from './errors';
import { MAX_ITEMS_PER_ORDER, placeOrderInput } from './placeOrderInput';
import { toMinorUnits } from './money';

/** What placing an order needs from outside: a store, the clock, ids, and settings. */
export interface PlaceOrderDeps {
  saveNewOrder(order: Order, event: OrderEventEnvelope<OrderCreatedPayload>): Promise<void>;
  currency: string;
  now?: () => Date;
  newId?: () => string;
}

/** Extra request context that travels into the event. */
export interface PlaceOrderContext {
  traceparent?: string;
}

/**
 * Validates the request body, prices the order exactly in minor units, and stores the order
 * with its `OrderCreated` event (seq 1) in one transaction.
 */
export async function placeOrder(body: unknown, deps: PlaceOrderDeps, context: PlaceOrderContext = {}): Promise<Order> {
  const items = (body as { items?: unknown } | null)?.items;
  if (Array.isArray(items) && items.length > MAX_ITEMS_PER_ORDER) {
    throw new AppError(
      'order.too_many_items',
      `An order can hold at most ${MAX_ITEMS_PER_ORDER} items; this one has ${items.length}`,
      { httpStatus: 422, details: { maxItems: MAX_ITEMS_PER_ORDER, itemCount: items.length } },
    );
  }
  const parsed = placeOrderInput.safeParse(body);
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((issue) => ({ field: issue.path.join('.') || '(body)', message: issue.message })),
    );
  }
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const newId = deps.newId ?? randomUUID;
  const lines = parsed.data.items.map((item, index) => {
    const unitPriceMinor = toMinorUnits(item.price) as number;
    return {
      lineNo: index + 1,
      productId: item.productId,
      quantity: item.quantity,
      unitPriceMinor,
      lineTotalMinor: unitPriceMinor * item.quantity,
    };
  });
  const order: Order = {
    orderId: newId(),
    customerId: parsed.data.customerId,
    status: 'CREATED',
    currency: deps.currency,
    totalMinor: lines.reduce((sum, line) => sum + line.lineTotalMinor, 0),
    version: 1,
    createdAt: now,
    updatedAt: now,
    items: lines,
  };
  const event: OrderEventEnvelope<OrderCreatedPayload> = {
    eventId: newId(),
    eventType: 'OrderCreated',
    schemaVersion: ENVELOPE_SCHEMA_VERSION,
    aggregateType: 'Order',
    aggregateId: order.orderId,
    seq: order.version,
    occurredAt: now,
    traceparent: context.traceparent,
    payload: {
      orderId: order.orderId,
      customerId: order.customerId,
      status: order.status,
      currency: order.currency,
      totalMinor: order.totalMinor,
      items: lines.map(({ productId, quantity, unitPriceMinor, lineTotalMinor }) => ({
        productId,
        quantity,
        unitPriceMinor,
        lineTotalMinor,
      })),
      createdAt: order.createdAt,
    },
  };
  await deps.saveNewOrder(order, event);
  return order;
}
