import { z } from 'zod';
import { AppError, type OrderEventEnvelope } from '@outbox/shared';

const money = z.number().int().min(0);
const currency = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code');
const timestamp = z.iso.datetime({ offset: true });

// Tolerant readers: unknown extra fields are allowed, so a producer may add fields without a
// new schema version; the fields the notifier uses must be present and well-formed.
const orderCreatedV1 = z.object({
  orderId: z.string().min(1),
  customerId: z.string().min(1),
  status: z.string().min(1),
  currency,
  totalMinor: money,
  items: z
    .array(
      z.object({
        productId: z.string().min(1),
        quantity: z.number().int().min(1),
        unitPriceMinor: money,
        lineTotalMinor: money,
      }),
    )
    .min(1),
  createdAt: timestamp,
});

const orderCancelledV1 = z.object({
  orderId: z.string().min(1),
  customerId: z.string().min(1),
  status: z.literal('CANCELLED'),
  currency,
  totalMinor: money,
  itemCount: z.number().int().min(0).optional(),
  cancelledAt: timestamp,
  reason: z.string().max(500).optional(),
});

/** `OrderCreated` payload as the notifier reads it. */
export type OrderCreated = z.infer<typeof orderCreatedV1>;
/** `OrderCancelled` payload as the notifier reads it. */
export type OrderCancelled = z.infer<typeof orderCancelledV1>;

/** An event whose payload was checked against the schema of its type and version. */
export type ValidOrderEvent =
  | { type: 'OrderCreated'; envelope: OrderEventEnvelope; payload: OrderCreated }
  | { type: 'OrderCancelled'; envelope: OrderEventEnvelope; payload: OrderCancelled };

const schemas = {
  OrderCreated: { 1: orderCreatedV1 },
  OrderCancelled: { 1: orderCancelledV1 },
} as const;

function isKnownType(type: string): type is keyof typeof schemas {
  return Object.hasOwn(schemas, type);
}

/**
 * Checks an event's type, schema version and payload. Every failure is permanent, so the caller
 * dead-letters it: `event.unknown_type`, `event.unsupported_schema_version` or
 * `event.schema_violation`.
 */
export function validateOrderEvent(envelope: OrderEventEnvelope): ValidOrderEvent {
  const type = envelope.eventType;
  if (!isKnownType(type)) {
    throw new AppError('event.unknown_type', `No notification for event type ${type}`);
  }
  const byVersion: Record<number, z.ZodType | undefined> = schemas[type];
  const schema = byVersion[envelope.schemaVersion];
  if (!schema) {
    throw new AppError(
      'event.unsupported_schema_version',
      `${envelope.eventType} schema version ${envelope.schemaVersion} is not supported`,
    );
  }
  const result = schema.safeParse(envelope.payload);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `payload.${i.path.join('.')}: ${i.message}`);
    throw new AppError('event.schema_violation', `${envelope.eventType} payload is invalid: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  const payload = result.data as { orderId: string };
  if (payload.orderId !== envelope.aggregateId) {
    throw new AppError('event.schema_violation', 'payload.orderId differs from the aggregateId');
  }
  return { type, envelope, payload: result.data } as ValidOrderEvent;
}
