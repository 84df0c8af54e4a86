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
    expect(signWebhook('key', '1700000000', '{"a":1}')).toBe(signWebhook('key', '1700000000', '{"a":1}'));
    expect(signWebhook('key', '1700000000', '{"a":1}')).not.toBe(signWebhook('key', '1700000001', '{"a":1}'));
    expect(signWebhook('key', '1', 'b')).toMatch(/^sha256=[0-9a-f]{64}$/);
  });
});
