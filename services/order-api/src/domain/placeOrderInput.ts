import { z } from 'zod';
import { MAX_PRICE_MINOR, MAX_TOTAL_MINOR, fromMinorUnits } from './money';

/**
 * A transaction holds at most 100 actions; an order uses one per item plus the order itself,
 * its outbox event and its idempotency record.
 */
export const MAX_ITEMS_PER_ORDER = 100 - 3;

/** The message of an amount with sub-cent precision (the zod check and the exact text check share it). */
export const TOO_PRECISE = 'must have at most 2 decimal places';

/**
 * A non-negative decimal amount with at most two fraction digits, up to `maxMinor` minor units.
 * The checks on the number document the contract (`multipleOf: 0.01` and the bounds in the
 * OpenAPI document); the exact verdict comes from the request's decimal text (see `placeOrder`).
 */
function moneyAmount(maxMinor: number, what: string) {
  const max = fromMinorUnits(maxMinor);
  return z
    .number({ error: 'must be a number' })
    .min(0, 'must not be negative')
    .max(max, `must be at most ${max}`)
    .multipleOf(0.01, TOO_PRECISE)
    .meta({
      description: `${what}: a decimal amount in the deployment currency, 0 to ${max}, at most 2 decimal places (read exactly from the request text)`,
      examples: [19.99],
    });
}

/** A unit price. */
export const unitPrice = moneyAmount(MAX_PRICE_MINOR, 'Unit price');
/** An order total. */
export const orderTotal = moneyAmount(MAX_TOTAL_MINOR, 'Order total');

/** One requested order line. */
export const orderLineInput = z.strictObject({
  // Taken as sent: trimming would turn the documented-valid " " into an empty id.
  productId: z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(64, 'must be at most 64 characters'),
  quantity: z
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(1000, 'must be at most 1000'),
  price: unitPrice,
});

/** The body of `POST /orders`. Unknown fields are rejected. */
export const placeOrderInput = z.strictObject({
  customerId: z.uuid('must be a UUID'),
  items: z
    .array(orderLineInput, { error: 'must be an array' })
    .min(1, 'must hold at least one item')
    .max(MAX_ITEMS_PER_ORDER, `must hold at most ${MAX_ITEMS_PER_ORDER} items`),
  /** The client's own total; when sent, it must equal the sum of price × quantity. */
  total: orderTotal.optional().meta({
    description: `The client's own total, 0 to ${fromMinorUnits(MAX_TOTAL_MINOR)}, at most 2 decimal places; when sent, it must equal the sum of price × quantity (else 422 \`order.total_mismatch\`)`,
  }),
});

/** A validated `POST /orders` body. */
export type PlaceOrderInput = z.infer<typeof placeOrderInput>;
