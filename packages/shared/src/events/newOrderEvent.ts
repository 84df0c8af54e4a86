import type { z } from 'zod';
import { AppError } from '../errors/AppError';
import type { OrderEventEnvelope, OrderEventType } from './OrderEventEnvelope';
import { orderEventSchema, type OrderEventPayloads } from './orderEventPayloads';

const schemas = new Map<string, z.ZodType>();

/** The whole-event schema of a type and version, built once. */
function schemaOf(eventType: OrderEventType, schemaVersion: number): z.ZodType {
  const key = `${eventType}@${schemaVersion}`;
  let schema = schemas.get(key);
  if (schema === undefined) {
    schema = orderEventSchema(eventType, schemaVersion);
    schemas.set(key, schema);
  }
  return schema;
}

/**
 * A new order event as a producer writes it to the outbox, checked against the contract (the
 * strict envelope and the payload schema of its type and version) before it is stored, so a
 * producer cannot write an event its consumers would dead-letter. A violation is a bug: a
 * non-retriable `event.invalid_outgoing` naming every problem. Returns the event unchanged.
 */
export function newOrderEvent<T extends OrderEventType>(
  event: OrderEventEnvelope<OrderEventPayloads[T]> & { eventType: T },
): OrderEventEnvelope<OrderEventPayloads[T]> {
  const result = schemaOf(event.eventType, event.schemaVersion).safeParse(event);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new AppError(
      'event.invalid_outgoing',
      `${event.eventType} event breaks its contract: ${problems.join('; ')}`,
      {
        retriable: false,
        details: { problems },
      },
    );
  }
  return event;
}
