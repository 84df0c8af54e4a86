import { z } from 'zod';
import { toMinorUnits } from './money';

/**
 * A transaction holds at most 100 actions; an order uses one per item plus the order itself,
 * its outbox event and its idempotency record.
 */
export const MAX_ITEMS_PER_ORDER = 100 - 3;

/** A non-negative decimal amount with at most two fraction digits (exact in minor units). */
export const moneyAmount = z
  .number({ error: 'must be a number' })
  .nonnegative('must not be negative')
  .refine((value) => toMinorUnits(value) !== undefined, 'must have at most 2 decimal places')
  .meta({ description: 'Decimal amount in the deployment currency, at most 2 decimal places', examples: [19.99] });

/** One requested order line. */
export const orderLineInput = z.strictObject({
  productId: z
    .string({ error: 'must be a string' })
    .trim()
    .min(1, 'must not be empty')
    .max(64, 'must be at most 64 characters'),
  quantity: z
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(1000, 'must be at most 1000'),
  price: moneyAmount,
});

/** The body of `POST /orders`. Unknown fields are rejected. */
export const placeOrderInput = z.strictObject({
  customerId: z.uuid('must be a UUID'),
  items: z
    .array(orderLineInput, { error: 'must be an array' })
    .min(1, 'must hold at least one item')
    .max(MAX_ITEMS_PER_ORDER, `must hold at most ${MAX_ITEMS_PER_ORDER} items`),
  /** The client's own total; when sent, it must equal the sum of price × quantity. */
  total: moneyAmount.optional(),
});

/** A validated `POST /orders` body. */
export type PlaceOrderInput = z.infer<typeof placeOrderInput>;
