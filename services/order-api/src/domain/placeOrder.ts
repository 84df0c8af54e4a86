import { randomUUID } from 'node:crypto';
import {
  ENVELOPE_SCHEMA_VERSION,
  newOrderEvent,
  type OrderCreatedPayload,
  type OrderEventEnvelope,
} from '@outbox/shared';
import type { Order, OrderLine } from './Order';
import { ValidationError, tooManyItems, totalMismatch, totalTooLarge, type FieldError } from './errors';
import { MAX_ITEMS_PER_ORDER, TOO_PRECISE, placeOrderInput } from './placeOrderInput';
import { MAX_PRICE_MINOR, MAX_TOTAL_MINOR, decimalTextOf, fromMinorUnits, minorUnitsOf } from './money';
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

/** Extra request context: what travels into the event, and the body's number texts. */
export interface PlaceOrderContext {
  traceparent?: string;
  tracestate?: string;
  /** Who places the order (authentication on): only for its own customer, unless an admin. */
  caller?: Caller;
  /**
   * The decimal text the request held for `holder[key]` (see `numberTextOf` in the HTTP layer).
   * Amounts are read from it exactly; without it (or for a value it does not know) a number's
   * shortest round-trip text is used, which is what a JavaScript caller's number means.
   */
  numberText?: (holder: object, key: string) => string | undefined;
}

/** One amount of the body, where it sits, and the bound it must keep. */
interface AmountField {
  field: string;
  holder: Record<string, unknown>;
  key: string;
  maxMinor: number;
}

/** The body's amounts (unit prices and the total) that are numbers, for the exact reading. */
function amountFieldsOf(body: unknown): AmountField[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [];
  const record = body as Record<string, unknown>;
  const fields: AmountField[] = [];
  if (Array.isArray(record.items)) {
    record.items.forEach((item: unknown, index) => {
      if (item !== null && typeof item === 'object' && !Array.isArray(item))
        fields.push({
          field: `items.${index}.price`,
          holder: item as Record<string, unknown>,
          key: 'price',
          maxMinor: MAX_PRICE_MINOR,
        });
    });
  }
  fields.push({ field: 'total', holder: record, key: 'total', maxMinor: MAX_TOTAL_MINOR });
  return fields.filter(({ holder, key }) => typeof holder[key] === 'number');
}

const AMOUNT_MESSAGES = {
  not_a_number: () => 'must be a number',
  negative: () => 'must not be negative',
  too_precise: () => TOO_PRECISE,
  too_large: (maxMinor: number) => `must be at most ${fromMinorUnits(maxMinor)}`,
} as const;

/**
 * Reads every amount of the body from its decimal text into exact minor units. Returns the
 * minor units by field name, and a field error for each amount that is not exact or in bounds
 * (`0.30000000000000001` is too precise, although its double prints as 0.3).
 */
function readAmounts(body: unknown, context: PlaceOrderContext): { minor: Map<string, number>; errors: FieldError[] } {
  const minor = new Map<string, number>();
  const errors: FieldError[] = [];
  for (const { field, holder, key, maxMinor } of amountFieldsOf(body)) {
    const text = context.numberText?.(holder, key) ?? decimalTextOf(holder[key] as number);
    const result = minorUnitsOf(text, maxMinor);
    if (result.ok) minor.set(field, result.minor);
    else errors.push({ field, message: AMOUNT_MESSAGES[result.problem](maxMinor) });
  }
  return { minor, errors };
}

/** Field errors without repeats (the zod check and the exact reading may say the same). */
function distinct(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const id = `${error.field}\u0000${error.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
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
  const amounts = readAmounts(body, context);
  if (!parsed.success || amounts.errors.length > 0) {
    const errors = distinct([...(parsed.success ? [] : fieldErrorsOf(parsed.error)), ...amounts.errors]);
    throw new ValidationError(errors, 'The request body is not a valid order');
  }
  assertMayActFor(context.caller, parsed.data.customerId);

  const lines: OrderLine[] = parsed.data.items.map((item, index) => {
    const unitPriceMinor = amounts.minor.get(`items.${index}.price`) as number;
    return {
      lineNo: index + 1,
      productId: item.productId,
      quantity: item.quantity,
      unitPriceMinor,
      lineTotalMinor: unitPriceMinor * item.quantity,
    };
  });
  // Each line total is exact (price ≤ 10^11 minor units × quantity ≤ 1000 < 2^53); the sum of 97
  // of them may not be, so it is added up in BigInt and refused beyond the documented maximum.
  const exactTotal = lines.reduce((sum, line) => sum + BigInt(line.lineTotalMinor), 0n);
  if (exactTotal > BigInt(MAX_TOTAL_MINOR)) throw totalTooLarge(exactTotal, MAX_TOTAL_MINOR);
  const totalMinor = Number(exactTotal);
  const submittedMinor = amounts.minor.get('total');
  if (submittedMinor !== undefined && submittedMinor !== totalMinor) throw totalMismatch(submittedMinor, totalMinor);

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
  // Checked against the event contract before it is stored: a bug here is a 500, never a poison event.
  const event = newOrderEvent({
    eventId: newId(),
    eventType: 'OrderCreated',
    schemaVersion: ENVELOPE_SCHEMA_VERSION,
    aggregateType: 'Order',
    aggregateId: order.orderId,
    seq: order.version,
    occurredAt: now,
    traceparent: context.traceparent,
    tracestate: context.tracestate,
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
  });
  await deps.saveNewOrder(order, event);
  return order;
}
