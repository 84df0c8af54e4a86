import { AppError, parseEnvelope } from '../src';

const valid = {
  eventId: 'e-1',
  eventType: 'OrderCreated',
  schemaVersion: 1,
  aggregateType: 'Order',
  aggregateId: 'o-1',
  seq: 1,
  occurredAt: '2026-11-23T10:00:00.000Z',
  payload: { orderId: 'o-1' },
};

describe('parseEnvelope', () => {
  test('When the value is a valid envelope, then it is returned as is', () => {
    expect(parseEnvelope(Buffer.from(JSON.stringify(valid)))).toEqual(valid);
  });

  test('When the value is not JSON, then it fails with event.invalid_json, not retriable', () => {
    expect(() => parseEnvelope('{')).toThrow(expect.objectContaining({ code: 'event.invalid_json', retriable: false }));
  });

  test('When a field is missing or unknown, then it fails with event.invalid_envelope naming it', () => {
    const { seq: _seq, ...withoutSeq } = valid;
    let caught: unknown;
    try {
      parseEnvelope({ ...withoutSeq, surprise: 1 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('event.invalid_envelope');
    expect((caught as AppError).message).toMatch(/seq/);
    expect((caught as AppError).message).toMatch(/surprise/);
  });
});
