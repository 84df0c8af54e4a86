import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { closeServer, listen } from '@outbox/shared';

/** One request the receiver saw. */
export interface ReceivedRequest {
  idempotencyKey: string;
  signatureValid: boolean;
  status: number;
  body: Record<string, unknown>;
  /** Milliseconds since the epoch when the request arrived. */
  at: number;
}

type Answer = number | { status: number; headers: Record<string, string> };

/**
 * Decides the status (and optional extra headers) for a request, at once or later (a promise holds
 * the request open, like a slow receiver); the receiver itself accepts each idempotency key once.
 */
export type Responder = (request: {
  idempotencyKey: string;
  body: Record<string, unknown>;
  attempt: number;
}) => Answer | Promise<Answer>;

/**
 * A real HTTP webhook receiver (node:http) like a customer would run: it checks the HMAC
 * signature, answers what `respond` says, and de-duplicates by idempotency key, so `accepted`
 * counts each key's 2xx answers (optionally after `delayMs`) and `acceptedTwice` lists keys that got a second 2xx.
 * `open()` is the number of requests not answered yet, `maxOpen()` the most at any time.
 */
export async function startWebhookReceiver(secret: string, respond: Responder, options: { delayMs?: number } = {}) {
  const requests: ReceivedRequest[] = [];
  const attempts = new Map<string, number>();
  const accepted = new Map<string, number>();
  let open = 0;
  let maxOpen = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => void handle());
    const handle = async () => {
      open += 1;
      maxOpen = Math.max(maxOpen, open);
      const raw = Buffer.concat(chunks).toString();
      const key = String(req.headers['idempotency-key'] ?? '');
      const timestamp = String(req.headers['x-webhook-timestamp'] ?? '');
      const expected = Buffer.from(
        `sha256=${createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex')}`,
      );
      const given = Buffer.from(String(req.headers['x-webhook-signature'] ?? ''));
      const signatureValid = given.length === expected.length && timingSafeEqual(given, expected);
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const body = JSON.parse(raw) as Record<string, unknown>;
      const answerOf = signatureValid ? await respond({ idempotencyKey: key, body, attempt }) : 401;
      const { status, headers } = typeof answerOf === 'number' ? { status: answerOf, headers: {} } : answerOf;
      if (status >= 200 && status < 300) accepted.set(key, (accepted.get(key) ?? 0) + 1);
      requests.push({ idempotencyKey: key, signatureValid, status, body, at: Date.now() });
      const answer = () => {
        open -= 1;
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end('{}');
      };
      if (options.delayMs) setTimeout(answer, options.delayMs);
      else answer();
    };
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}/hooks/orders`,
    requests,
    accepted,
    open: () => open,
    maxOpen: () => maxOpen,
    stop: () => closeServer(server),
  };
}
