import { z } from 'zod';
import { envelopeSchema, type OrderEventType } from './OrderEventEnvelope';

const minor = z.number().int().min(0).describe('Money in integer minor units (cents).');
const currency = z
  .string()
  .regex(/^[A-Z]{3}$/, 'an ISO 4217 code')
  .describe('ISO 4217 currency code.');
const timestamp = z.iso.datetime({ offset: true });

// Payloads are read tolerantly: an unknown extra field is allowed (a producer may add fields
// without a new schema version); the fields listed must be present and well-formed. A field a
// reader cannot count on in every event of this version is optional.

/** An order line as it travels in events: money in integer minor units. */
export const orderLinePayloadV1 = z.object({
  productId: z.string().min(1),
  quantity: z.number().int().min(1),
  unitPriceMinor: minor,
  lineTotalMinor: minor,
});

/** Payload of `OrderCreated`, schema version 1. */
export const orderCreatedPayloadV1 = z
  .object({
    orderId: z.string().min(1).describe("Equals the envelope's aggregateId."),
    customerId: z.string().min(1),
    status: z.string().min(1).describe("The new order's status, `CREATED`."),
    currency,
    totalMinor: minor,
    items: z.array(orderLinePayloadV1).min(1),
    createdAt: timestamp.describe("ISO-8601 time the order was placed (equals the envelope's occurredAt)."),
  })
  .meta({ title: 'OrderCreatedPayloadV1' });

/**
 * Payload of `OrderCancelled`, schema version 1 (envelope `seq` = the order's new version).
 * Carries enough for a consumer to render a cancellation notice without reading the order.
 */
export const orderCancelledPayloadV1 = z
  .object({
    orderId: z.string().min(1).describe("Equals the envelope's aggregateId."),
    customerId: z.string().min(1),
    status: z.literal('CANCELLED'),
    previousStatus: z.string().min(1).optional().describe('The state the order left.'),
    currency,
    totalMinor: minor,
    itemCount: z.number().int().min(0).optional().describe('Number of order lines.'),
    cancelledAt: timestamp.describe("ISO-8601 time of the cancellation (equals the envelope's occurredAt)."),
    reason: z.string().max(500).optional().describe("The customer's or operator's reason, when one was given."),
  })
  .meta({ title: 'OrderCancelledPayloadV1' });

/** An order line in events (current version). */
export type OrderLinePayload = z.infer<typeof orderLinePayloadV1>;
/** Payload of `OrderCreated` (current version). */
export type OrderCreatedPayload = z.infer<typeof orderCreatedPayloadV1>;
/** Payload of `OrderCancelled` (current version). */
export type OrderCancelledPayload = z.infer<typeof orderCancelledPayloadV1>;

/** The payload schema of every event type, by schema version. */
export const ORDER_EVENT_PAYLOADS = {
  OrderCreated: { 1: orderCreatedPayloadV1 },
  OrderCancelled: { 1: orderCancelledPayloadV1 },
} as const satisfies Record<OrderEventType, Record<number, z.ZodType>>;

/** The payload type of each event type at the current schema version. */
export interface OrderEventPayloads {
  OrderCreated: OrderCreatedPayload;
  OrderCancelled: OrderCancelledPayload;
}

/** The payload schema of `eventType` at `schemaVersion`, or undefined when there is none. */
export function payloadSchemaFor(eventType: string, schemaVersion: number): z.ZodType | undefined {
  if (!Object.hasOwn(ORDER_EVENT_PAYLOADS, eventType)) return undefined;
  const byVersion: Record<number, z.ZodType | undefined> = ORDER_EVENT_PAYLOADS[eventType as OrderEventType];
  return Object.hasOwn(byVersion, schemaVersion) ? byVersion[schemaVersion] : undefined;
}

/**
 * The whole event of one type and schema version: the strict envelope with that type, that
 * version and its payload schema (what the generated `<type>.v<n>.schema.json` files describe).
 */
export function orderEventSchema(eventType: OrderEventType, schemaVersion: number) {
  const payload = payloadSchemaFor(eventType, schemaVersion);
  if (payload === undefined) throw new Error(`No payload schema for ${eventType} v${schemaVersion}`);
  return envelopeSchema
    .extend({ eventType: z.literal(eventType), schemaVersion: z.literal(schemaVersion), payload })
    .meta({
      title: `${eventType}V${schemaVersion}`,
      description: `An ${eventType} event, schema version ${schemaVersion}.`,
    });
}

/** Every (type, version) pair that has a payload schema. */
export function orderEventVersions(): { eventType: OrderEventType; schemaVersion: number }[] {
  return Object.entries(ORDER_EVENT_PAYLOADS).flatMap(([eventType, byVersion]) =>
    Object.keys(byVersion).map((version) => ({
      eventType: eventType as OrderEventType,
      schemaVersion: Number(version),
    })),
  );
}
