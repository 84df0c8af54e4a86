import { randomUUID } from 'node:crypto';
import { ENVELOPE_SCHEMA_VERSION, type OrderCreatedPayload, type OrderEventEnvelope } from '@outbox/shared';
import type { Order, OrderLine } from './Order';
import { ValidationError, tooManyItems, totalMismatch, totalTooLarge } from './errors';
import { MAX_ITEMS_PER_ORDER, placeOrderInput } from './placeOrderInput';
import { toMinorUnits } from './money';
import { fieldErrorsOf } from './fieldErrorsOf';
import type { Caller } from './Caller';
import { assertMayActFor } from './access';

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
  /** Who places the order (authentication on): only for its own customer, unless an admin. */
  caller?: Caller;
}

/**
 * Validates the request body, checks that the caller may order for its customer (403
 * otherwise), prices the order exactly in minor units, and stores the order with its
 * `OrderCreated` event (seq 1) in one transaction.
 */
export async function placeOrder(body: unknown, deps: PlaceOrderDeps, context: PlaceOrderContext = {}): Promise<Order> {
  // Checked first, so a huge order gets the one clear answer rather than a field error per line.
  const items = (body as { items?: unknown } | null)?.items;
  if (Array.isArray(items) && items.length > MAX_ITEMS_PER_ORDER) throw tooManyItems(items.length, MAX_ITEMS_PER_ORDER);
  const parsed = placeOrderInput.safeParse(body);
  if (!parsed.success) throw new ValidationError(fieldErrorsOf(parsed.error), 'The request body is not a valid order');
  assertMayActFor(context.caller, parsed.data.customerId);

  const lines: OrderLine[] = parsed.data.items.map((item, index) => {
    const unitPriceMinor = toMinorUnits(item.price) as number;
    return {
      lineNo: index + 1,
      productId: item.productId,
      quantity: item.quantity,
      unitPriceMinor,
      lineTotalMinor: unitPriceMinor * item.quantity,
    };
  });
  // Integers only; any step beyond 2^53 would stop being exact, so it is refused instead.
  let totalMinor = 0;
  for (const line of lines) {
    totalMinor += line.lineTotalMinor;
    if (!Number.isSafeInteger(line.lineTotalMinor) || !Number.isSafeInteger(totalMinor)) throw totalTooLarge();
  }
  if (parsed.data.total !== undefined) {
    const submittedMinor = toMinorUnits(parsed.data.total) as number;
    if (submittedMinor !== totalMinor) throw totalMismatch(submittedMinor, totalMinor);
  }

  const now = (deps.now ?? (() => new Date()))().toISOString();
  const newId = deps.newId ?? randomUUID;
  const order: Order = {
    orderId: newId(),
    customerId: parsed.data.customerId,
    status: 'CREATED',
    currency: deps.currency,
    totalMinor,
    itemCount: lines.length,
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
