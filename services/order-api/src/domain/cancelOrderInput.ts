import { z } from 'zod';

/** The optional body of `POST /orders/:id/cancel`. Unknown fields are rejected. */
export const cancelOrderInput = z.strictObject({
  /** Why the order is cancelled; travels in the `OrderCancelled` event. */
  // Taken as sent: trimming would turn the documented-valid " " into an empty reason.
  reason: z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(500, 'must be at most 500 characters')
    .optional(),
  /** The version the client last saw; the cancel fails with 409 if the order moved on. */
  expectedVersion: z
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .optional(),
});

/** A validated cancel body. */
export type CancelOrderInput = z.infer<typeof cancelOrderInput>;
