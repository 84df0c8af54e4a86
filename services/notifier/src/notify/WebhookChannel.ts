import { createHmac } from 'node:crypto';
import { AppError } from '@outbox/shared';

/** Options for {@link WebhookChannel}. */
export interface WebhookChannelOptions {
  url: string;
  /** HMAC-SHA256 key shared with the receiver. */
  secret: string;
  /** Timeout of one request; a timeout is retried like a 5xx. */
  timeoutMs: number;
  /** Wall clock for the signed timestamp; injectable for tests. */
  now?: () => Date;
}

/** Header names of a webhook request. */
export const WEBHOOK_HEADERS = {
  signature: 'x-webhook-signature',
  timestamp: 'x-webhook-timestamp',
  idempotencyKey: 'idempotency-key',
} as const;

/**
 * The signature a receiver recomputes: `sha256=` + hex HMAC-SHA256 over `<timestamp>.<body>`.
 * Signing the timestamp lets a receiver refuse replays of old requests.
 */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * POSTs a notification to a configured URL, signed, with the event id as idempotency key so
 * the receiver can drop a repeated delivery. 2xx is success; 5xx, 408, 429, timeouts and network
 * errors are retriable (`webhook.unavailable`, with `details.retryAfterMs` when a 408 or 429 carried
 * `Retry-After`); any other status is permanent (`webhook.rejected`).
 */
export class WebhookChannel {
  private readonly options: WebhookChannelOptions;

  constructor(options: WebhookChannelOptions) {
    this.options = options;
  }

  async deliver(idempotencyKey: string, message: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(message);
    const timestamp = String(Math.floor((this.options.now?.() ?? new Date()).getTime() / 1000));
    let response: Response;
    try {
      response = await fetch(this.options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_HEADERS.idempotencyKey]: idempotencyKey,
          [WEBHOOK_HEADERS.timestamp]: timestamp,
          [WEBHOOK_HEADERS.signature]: signWebhook(this.options.secret, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      // Drain the body so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
    } catch (error) {
      throw new AppError('webhook.unavailable', `Webhook did not answer: ${(error as Error).message}`, {
        retriable: true,
        cause: error,
      });
    }
    if (response.ok) return;
    const status = response.status;
    if (status >= 500 || status === 408 || status === 429) {
      // A receiver that says when to come back (408 and 429, as RFC 9110 and RFC 6585 allow) is not asked sooner.
      const retryAfterMs =
        status === 408 || status === 429
          ? parseRetryAfter(response.headers.get('retry-after'), this.options.now?.() ?? new Date())
          : undefined;
      throw new AppError('webhook.unavailable', `Webhook answered ${status}`, {
        retriable: true,
        details: retryAfterMs === undefined ? { status } : { status, retryAfterMs },
      });
    }
    throw new AppError('webhook.rejected', `Webhook answered ${status}`, { retriable: false, details: { status } });
  }
}

/**
 * Milliseconds a `Retry-After` value asks to wait: delta-seconds or an HTTP date (RFC 9110
 * 10.2.3); undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - now.getTime()) : undefined;
}
