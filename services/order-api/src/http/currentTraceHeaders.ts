import { TRACEPARENT_PATTERN, serverSpan, traceHeadersOf, type TraceHeaders } from '@outbox/shared';
import type { Request } from 'express';

/**
 * The W3C trace context to store with the event: the request's server span when tracing runs
 * (which continues a caller's `traceparent`), else the caller's own well-formed headers, so a
 * trace still links across the outbox.
 */
export function currentTraceHeaders(req: Request): TraceHeaders {
  const span = serverSpan();
  const ours = span ? traceHeadersOf(span) : {};
  if (ours.traceparent) return ours;
  const traceparent = req.get('traceparent');
  if (!traceparent || !TRACEPARENT_PATTERN.test(traceparent)) return {};
  const tracestate = req.get('tracestate');
  return tracestate && tracestate.length <= 512 ? { traceparent, tracestate } : { traceparent };
}
