import { z } from 'zod';
import { AppError } from '../errors/AppError';
import type { OrderEventEnvelope } from './OrderEventEnvelope';

/** The zod twin of `orderEventEnvelope.schema.json`; a test keeps the two in agreement. */
export const envelopeSchema = z.strictObject({
  eventId: z.string().min(1).max(128),
  eventType: z.string().min(1),
  schemaVersion: z.number().int().min(1),
  aggregateType: z.string().min(1),
  aggregateId: z.string().min(1).max(128),
  seq: z.number().int().min(1),
  occurredAt: z.iso.datetime({ offset: true }),
  traceparent: z
    .string()
    .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
    .optional(),
  tracestate: z.string().max(512).optional(),
  payload: z.record(z.string(), z.unknown()),
});

/**
 * Parses and validates an envelope from a Kafka value or any unknown input.
 * Throws a non-retriable {@link AppError} (`event.invalid_json` or `event.invalid_envelope`).
 */
export function parseEnvelope(input: Buffer | string | unknown): OrderEventEnvelope {
  let value: unknown = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      value = JSON.parse(input.toString());
    } catch (error) {
      throw new AppError('event.invalid_json', 'Event value is not valid JSON', { cause: error });
    }
  }
  const result = envelopeSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new AppError('event.invalid_envelope', `Event envelope is invalid: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return result.data as OrderEventEnvelope;
}
