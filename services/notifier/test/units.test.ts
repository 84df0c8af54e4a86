import { createHmac } from 'node:crypto';
import { parseEnvelope } from '@outbox/shared';
import type { AppError } from '@outbox/shared';
import { loadConfig } from '../src/config';
import { exponentialBackoff } from '@outbox/shared';
import { PartitionProgress } from '../src/consume/PartitionProgress';
import { renderNotification } from '../src/notify/renderNotification';
import { validateOrderEvent } from '../src/notify/validateOrderEvent';
import { parseRetryAfter, signWebhook } from '../src/notify/WebhookChannel';
import { orderCancelled, orderCreated } from './support/notifierTestKit';

describe('pure notifier logic', () => {
  test('When retries repeat, then the backoff doubles from the initial delay up to the cap and jitter only shortens it', () => {
    const noJitter = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 50].map(noJitter)).toEqual([100, 200, 400, 800, 1000, 1000]);
    const fullRandom = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.999 });
    expect(fullRandom(10)).toBeGreaterThanOrEqual(500);
    expect(fullRandom(10)).toBeLessThanOrEqual(1000);
  });

  test('When a message is held, then the commit point stays at it while later offsets are handled, and moves past all once it is released', () => {
    const progress = new PartitionProgress();
    expect(progress.pendingCommit()).toBeUndefined();
    progress.seen('10');
    progress.seen('11', true);
    progress.seen('12');
    progress.seen('13');
    expect(progress.pendingCommit()).toBe('11');
    progress.markCommitted('11');
    expect(progress.pendingCommit()).toBeUndefined();
    // A rebalance redelivers the held offset: it stays held, not handled twice.
    expect(progress.isHeld('11')).toBe(true);
    progress.release('11');
    expect(progress.pendingCommit()).toBe('14');
  });

  test('When an OrderCreated event is rendered, then the confirmation names the customer, every line and the total', () => {
    const event = orderCreated('order-1');
    event.payload = {
      ...event.payload,
      totalMinor: 2599,
      items: [
        { productId: 'sku-1', quantity: 2, unitPriceMinor: 1250, lineTotalMinor: 2500 },
        { productId: 'sku-2', quantity: 1, unitPriceMinor: 99, lineTotalMinor: 99 },
      ],
    };
    const notification = renderNotification(validateOrderEvent(parseEnvelope(JSON.stringify(event))));
    expect(notification).toMatchObject({
      kind: 'order_confirmation',
      orderId: 'order-1',
      customerId: 'customer-1',
      totalMinor: 2599,
    });
    expect(notification.body).toContain('customer-1');
    expect(notification.body).toContain('- 2 x sku-1 at 12.50 USD = 25.00 USD');
    expect(notification.body).toContain('- 1 x sku-2 at 0.99 USD = 0.99 USD');
    expect(notification.body).toContain('Total: 25.99 USD');
  });

  test('When an OrderCancelled event is rendered, then the notice names the order, the total and the reason', () => {
    const event = orderCancelled('order-2', 2);
    // As order-api publishes it: extra fields a reader may ignore, and the item count it shows.
    event.payload = { ...event.payload, previousStatus: 'CREATED', itemCount: 3 };
    const notification = renderNotification(validateOrderEvent(event));
    expect(notification).toMatchObject({
      kind: 'order_cancellation',
      orderId: 'order-2',
      subject: 'Order order-2 cancelled',
    });
    expect(notification.body).toContain('order-2 of 3 item(s) (total 25.00 USD) has been cancelled');
    expect(notification.body).toContain('Reason: changed my mind.');
  });

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

  test('When a webhook answers Retry-After, then seconds and HTTP dates become a wait in milliseconds', () => {
    const now = new Date('2026-01-02T03:04:05.000Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Fri, 02 Jan 2026 03:04:15 GMT', now)).toBe(10000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  test('When a webhook body is signed, then the signature is the HMAC-SHA256 of timestamp and body', () => {
    // A fixed vector computed outside this code: printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
    expect(signWebhook('key', '1700000000', '{"a":1}')).toBe(
      'sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03',
    );
    // What a receiver computes with node:crypto from the secret, the timestamp header and the raw body.
    const secret = 'whsec-test';
    const timestamp = '1764000000';
    const body = JSON.stringify({ eventId: 'e-1', total: 1234 });
    const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
    expect(signWebhook(secret, timestamp, body)).toBe(expected);
    // The timestamp is signed: another one gives another signature.
    expect(signWebhook('key', '1700000001', '{"a":1}')).not.toBe(
      'sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03',
    );
  });

  test('When the configuration is inconsistent, then loading it lists every problem', () => {
    let problems: string[] = [];
    try {
      loadConfig({
        WEBHOOK_URL: 'http://hooks.example.com/x',
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        KAFKA_HEARTBEAT_INTERVAL_MS: '6000',
        NOTIFIER_RETRY_INITIAL_MS: '5000',
        NOTIFIER_RETRY_MAX_MS: '100',
        NOTIFIER_GAP_RECHECK_MS: '5000',
        NOTIFIER_GAP_RECHECK_MAX_MS: '1000',
      });
    } catch (error) {
      problems = (error as { problems: string[] }).problems;
    }
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'KAFKA_HEARTBEAT_INTERVAL_MS',
      'NOTIFIER_GAP_RECHECK_MS',
      'NOTIFIER_RETRY_INITIAL_MS',
      'WEBHOOK_SECRET',
    ]);
    const defaults = loadConfig({});
    expect(defaults.webhook).toBeUndefined();
    expect(defaults.consumer).toMatchObject({
      partitionConcurrency: 3,
      commitIntervalMs: 0,
      gapTimeoutMs: 60000,
      heldMaxEvents: 1000,
      heldMaxBytes: 16 * 1024 * 1024,
    });
    expect(defaults.webhookRetry).toEqual({ maxAttempts: 10, maxMs: 600000 });
  });
});
