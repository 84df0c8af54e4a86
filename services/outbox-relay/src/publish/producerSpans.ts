import { ROOT_CONTEXT, SpanKind, SpanStatusCode, isSpanContextValid, trace, type Span } from '@opentelemetry/api';
import { contextFromTraceHeaders, type OrderEventEnvelope, type TraceHeaders } from '@outbox/shared';

const tracer = trace.getTracer('@outbox/outbox-relay');

/**
 * Starts the producer span `publish <topic>` of one event, as a child of the API's server span
 * stored with the outbox item (`traceparent`/`tracestate`), so the order keeps one trace across
 * the outbox. A child rather than a link: the relay publishes each event once on the order's
 * behalf, and a child keeps the trace whole in any backend. An event stored without context starts
 * a trace of its own. Returns the span and the headers that carry it to the notifier.
 *
 * Called once per record, so it stays lean: an event without stored context starts from the root
 * context without a propagator round, and the headers are the span's own context written in the
 * W3C format the registered propagator writes (`traceparent`, and `tracestate` when the trace has one).
 */
export function startProducerSpan(topic: string, envelope: OrderEventEnvelope): { span: Span; headers: TraceHeaders } {
  const parent =
    envelope.traceparent === undefined
      ? ROOT_CONTEXT
      : contextFromTraceHeaders({ traceparent: envelope.traceparent, tracestate: envelope.tracestate });
  const span = tracer.startSpan(
    `publish ${topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'publish',
        'messaging.destination.name': topic,
        'messaging.kafka.message.key': envelope.aggregateId,
        'messaging.message.id': envelope.eventId,
        'order.event_type': envelope.eventType,
        'order.seq': envelope.seq,
      },
    },
    parent,
  );
  const headers = w3cHeadersOf(span);
  // Tracing not loaded in this process (no tracer provider, so no valid span): pass the stored context on unchanged.
  if (!headers) return { span, headers: { traceparent: envelope.traceparent, tracestate: envelope.tracestate } };
  return { span, headers };
}

/** The span's context as W3C trace-context headers (version 00), or `undefined` when it has none. */
function w3cHeadersOf(span: Span): TraceHeaders | undefined {
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return undefined;
  const flags = (context.traceFlags & 0xff).toString(16).padStart(2, '0');
  const traceparent = `00-${context.traceId}-${context.spanId}-${flags}`;
  const tracestate = context.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** Ends producer spans when Kafka acknowledged their batch, or with the error when it did not. */
export function endProducerSpans(spans: Span[], error?: unknown): void {
  for (const span of spans) {
    if (error !== undefined) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    }
    span.end();
  }
}
