import type { AppError } from '@outbox/shared';
import { validateOrderEvent } from '../src/notify/validateOrderEvent';
import { orderCancelled, orderCreated } from './support/notifierTestKit';

describe('validateOrderEvent', () => {
  test('When an event has an unknown type, an unsupported version or a bad payload, then validation fails permanently with a code for each', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return [(error as AppError).code, (error as AppError).retriable];
      }
      return undefined;
    };
    expect(codeOf(() => validateOrderEvent(orderCreated('o', { eventType: 'OrderShipped' })))).toEqual([
      'event.unknown_type',
      false,
    ]);
    expect(codeOf(() => validateOrderEvent(orderCreated('o', { eventType: 'toString' })))).toEqual([
      'event.unknown_type',
      false,
    ]);
    expect(codeOf(() => validateOrderEvent(orderCreated('o', { schemaVersion: 2 })))).toEqual([
      'event.unsupported_schema_version',
      false,
    ]);
    const wrongOrder = orderCreated('o');
    wrongOrder.payload = { ...wrongOrder.payload, orderId: 'other' };
    expect(codeOf(() => validateOrderEvent(wrongOrder))).toEqual(['event.schema_violation', false]);
    const badCancel = orderCancelled('o', 2);
    badCancel.payload = { ...badCancel.payload, status: 'CREATED' };
    expect(codeOf(() => validateOrderEvent(badCancel))).toEqual(['event.schema_violation', false]);
  });
});
