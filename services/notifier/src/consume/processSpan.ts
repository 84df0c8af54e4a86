import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import type { KafkaMessage } from 'kafkajs';
import { contextFromTraceHeaders, type OrderEventEnvelope } from '@outbox/shared';

const tracer = trace.getTracer('@outbox/notifier');

/** Where the message came from, for the span's messaging attributes. */
export interface ProcessSpanOptions {
  topic: string;
  partition: number;
  message: KafkaMessage;
  envelope: OrderEventEnvelope;
}

/**
 * Runs `work` in a consumer span `process <topic>` that continues the event's trace: its parent
 * is the relay's producer span from the record's `traceparent`/`tracestate` headers (the envelope's
 * stored context when the record has none). The DynamoDB transaction and the webhook call made
 * inside become its children. A thrown error is recorded on the span and rethrown.
 */
export async function inProcessSpan<T>(options: ProcessSpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  const { topic, partition, message, envelope } = options;
  const parent = contextFromTraceHeaders(
    message.headers?.traceparent !== undefined ? message.headers : { ...envelope },
  );
  const span = tracer.startSpan(
    `process ${topic}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': topic,
        'messaging.destination.partition.id': String(partition),
        'messaging.kafka.offset': Number(message.offset),
        'messaging.kafka.message.key': envelope.aggregateId,
        'messaging.message.id': envelope.eventId,
        'order.event_type': envelope.eventType,
        'order.seq': envelope.seq,
      },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}
