import {
  AppError,
  payloadSchemaFor,
  type OrderCancelledPayload,
  type OrderCreatedPayload,
  type OrderEventEnvelope,
  type OrderEventType,
} from '@outbox/shared';

/** `OrderCreated` payload as the notifier reads it (the shared contract's type). */
export type OrderCreated = OrderCreatedPayload;
/** `OrderCancelled` payload as the notifier reads it (the shared contract's type). */
export type OrderCancelled = OrderCancelledPayload;

/** An event whose payload was checked against the schema of its type and version. */
export type ValidOrderEvent =
  | { type: 'OrderCreated'; envelope: OrderEventEnvelope; payload: OrderCreated }
  | { type: 'OrderCancelled'; envelope: OrderEventEnvelope; payload: OrderCancelled };

const KNOWN_TYPES: readonly string[] = ['OrderCreated', 'OrderCancelled'] satisfies OrderEventType[];

/**
 * Checks an event's type, schema version and payload against the shared event contract
 * (`payloadSchemaFor` in packages/shared; tolerant: extra payload fields are allowed). Every
 * failure is permanent, so the caller dead-letters it: `event.unknown_type`,
 * `event.unsupported_schema_version` or `event.schema_violation`.
 */
export function validateOrderEvent(envelope: OrderEventEnvelope): ValidOrderEvent {
  const type = envelope.eventType;
  if (!KNOWN_TYPES.includes(type)) {
    throw new AppError('event.unknown_type', `No notification for event type ${type}`);
  }
  const schema = payloadSchemaFor(type, envelope.schemaVersion);
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
