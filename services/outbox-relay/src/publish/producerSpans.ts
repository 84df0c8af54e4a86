import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { contextFromTraceHeaders, traceHeadersOf, type OrderEventEnvelope, type TraceHeaders } from '@outbox/shared';

const tracer = trace.getTracer('@outbox/outbox-relay');

/**
 * Starts the producer span `publish <topic>` of one event, as a child of the API's server span
 * stored with the outbox item (`traceparent`/`tracestate`), so the order keeps one trace across
 * the outbox. A child rather than a link: the relay publishes each event once on the order's
 * behalf, and a child keeps the trace whole in any backend. An event stored without context starts
 * a trace of its own. Returns the span and the headers that carry it to the notifier.
 */
export function startProducerSpan(topic: string, envelope: OrderEventEnvelope): { span: Span; headers: TraceHeaders } {
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
    contextFromTraceHeaders({ ...envelope }),
  );
  const headers = traceHeadersOf(span);
  // Tracing not loaded in this process (no propagator): pass the stored context on unchanged.
  if (!headers.traceparent)
    return { span, headers: { traceparent: envelope.traceparent, tracestate: envelope.tracestate } };
  return { span, headers };
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
