import { context, propagation } from '@opentelemetry/api';
import type { Request } from 'express';

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The W3C `traceparent` to store with the event: the active span's when tracing runs, else the
 * caller's own header when it is well-formed, so a trace still links across the outbox.
 */
export function currentTraceparent(req: Request): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  if (carrier.traceparent && TRACEPARENT.test(carrier.traceparent)) return carrier.traceparent;
  const incoming = req.get('traceparent');
  return incoming && TRACEPARENT.test(incoming) ? incoming : undefined;
}
