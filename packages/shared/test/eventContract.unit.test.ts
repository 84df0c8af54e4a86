import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  AppError,
  envelopeSchema,
  newOrderEvent,
  orderEventSchema,
  payloadSchemaFor,
  type OrderCancelledPayload,
} from '../src';

const envelope = {
  eventId: 'e-1',
  eventType: 'OrderCancelled' as const,
  schemaVersion: 1,
  aggregateType: 'Order',
  aggregateId: 'o-1',
  seq: 2,
  occurredAt: '2026-11-23T10:00:00.000Z',
};
const payload: OrderCancelledPayload = {
  orderId: 'o-1',
  customerId: 'c-1',
  status: 'CANCELLED',
  previousStatus: 'CREATED',
  currency: 'USD',
  totalMinor: 2500,
  itemCount: 1,
  cancelledAt: '2026-11-23T10:00:00.000Z',
};

/** A validator built from a committed JSON Schema file alone, independent of the zod schemas. */
function fromFile(name: string): z.ZodType {
  return z.fromJSONSchema(JSON.parse(readFileSync(join(__dirname, '../src/events', name), 'utf8')));
}

describe('the event contract', () => {
  test('When sample events are checked by the zod schemas and by the generated JSON Schema files, then both accept and reject the same ones', () => {
    const good = { ...envelope, payload };
    const samples: Record<string, unknown>[] = [
      good,
      { ...good, traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01' },
      { ...good, surprise: 1 },
      { ...good, seq: 0 },
      { ...good, occurredAt: 'yesterday' },
      { ...good, payload: { ...payload, extra: 'a newer writer' } },
      { ...good, payload: { ...payload, status: 'CREATED' } },
      { ...good, payload: { ...payload, currency: 'usd' } },
      { ...good, payload: { ...payload, totalMinor: 1.5 } },
      { ...good, payload: { ...payload, reason: 'x'.repeat(501) } },
      { ...good, payload: { ...payload, previousStatus: undefined, itemCount: undefined } },
      { ...good, eventType: 'OrderCreated' },
    ];
    const zodEvent = orderEventSchema('OrderCancelled', 1);
    const fileEvent = fromFile('OrderCancelled.v1.schema.json');
    const fileEnvelope = fromFile('orderEventEnvelope.schema.json');
    const verdicts = samples.map((sample) => [
      zodEvent.safeParse(sample).success,
      fileEvent.safeParse(JSON.parse(JSON.stringify(sample))).success,
      envelopeSchema.safeParse(sample).success,
      fileEnvelope.safeParse(JSON.parse(JSON.stringify(sample))).success,
    ]);
    for (const [zodSays, fileSays, zodEnvelopeSays, fileEnvelopeSays] of verdicts) {
      expect(fileSays).toBe(zodSays);
      expect(fileEnvelopeSays).toBe(zodEnvelopeSays);
    }
    // The samples reach both outcomes: they test something.
    expect(verdicts.map(([zodSays]) => zodSays)).toEqual([
      true,
      true,
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      false,
      true,
      false,
    ]);
  });

  test('When a payload schema is looked up, then only a known type at a known version has one', () => {
    expect(payloadSchemaFor('OrderCreated', 1)).toBeDefined();
    expect(payloadSchemaFor('OrderCancelled', 1)).toBeDefined();
    expect(payloadSchemaFor('OrderCreated', 2)).toBeUndefined();
    expect(payloadSchemaFor('OrderShipped', 1)).toBeUndefined();
    expect(payloadSchemaFor('toString', 1)).toBeUndefined();
  });

  test('When a producer builds an event that breaks its contract, then newOrderEvent fails with event.invalid_outgoing naming each problem', () => {
    expect(newOrderEvent({ ...envelope, payload })).toEqual({ ...envelope, payload });
    let caught: unknown;
    try {
      newOrderEvent({ ...envelope, seq: 0, payload: { ...payload, currency: 'dollars' } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect(caught).toMatchObject({ code: 'event.invalid_outgoing', retriable: false });
    expect((caught as AppError).message).toMatch(/seq/);
    expect((caught as AppError).message).toMatch(/payload\.currency/);
  });
});
