import { ROOT_CONTEXT, context, propagation, trace, type Context, type Span } from '@opentelemetry/api';
import { getRPCMetadata } from '@opentelemetry/core';

/** The W3C trace context of an event, as stored on the outbox item and sent as Kafka headers. */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
}

/** A well-formed W3C `traceparent` (version, trace id, parent span id, flags). */
export const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The `traceparent` and `tracestate` of `span` (of the active span when not given), through the
 * registered propagator; empty when tracing is not running (no propagator, or no valid span).
 */
export function traceHeadersOf(span?: Span): TraceHeaders {
  const carrier: Record<string, string> = {};
  const base = context.active();
  propagation.inject(span ? trace.setSpan(base, span) : base, carrier);
  if (!carrier.traceparent || !TRACEPARENT_PATTERN.test(carrier.traceparent)) return {};
  return carrier.tracestate
    ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate }
    : { traceparent: carrier.traceparent };
}

/**
 * The context to continue a stored or received trace in: its span context as the remote parent.
 * Header values may be strings or Buffers (Kafka); a missing or malformed `traceparent` gives the
 * root context, so the caller starts a new trace.
 */
export function contextFromTraceHeaders(headers: Record<string, unknown> | undefined): Context {
  const text = (value: unknown) =>
    typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  const carrier: Record<string, string> = {};
  const traceparent = text(headers?.traceparent);
  const tracestate = text(headers?.tracestate);
  if (traceparent) carrier.traceparent = traceparent;
  if (tracestate) carrier.tracestate = tracestate;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/**
 * The HTTP server span of the request being handled (the http instrumentation keeps it in the
 * context for express), else the active span; undefined outside a traced request.
 */
export function serverSpan(): Span | undefined {
  return getRPCMetadata(context.active())?.span ?? trace.getActiveSpan();
}
