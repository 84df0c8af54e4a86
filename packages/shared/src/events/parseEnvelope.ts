import { AppError } from '../errors/AppError';
import { envelopeSchema, type OrderEventEnvelope } from './OrderEventEnvelope';

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
  return result.data;
}
