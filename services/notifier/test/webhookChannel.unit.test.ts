import { createHmac } from 'node:crypto';
import { parseRetryAfter, signWebhook } from '../src/notify/WebhookChannel';

describe('WebhookChannel (Retry-After and signature)', () => {
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
});
