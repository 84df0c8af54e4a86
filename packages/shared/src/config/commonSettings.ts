import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** An optional URL setting: unset or empty means "not configured". */
const optionalUrl = z.preprocess((value) => (value === '' ? undefined : value), z.url().optional());

/**
 * Environment settings every service shares, as zod shapes to spread into a service schema.
 * Each key is the environment variable's name.
 */
export const commonSettings = {
  /** Log level: fatal, error, warn, info, debug, trace. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** AWS region for DynamoDB, DynamoDB Streams and Kinesis. */
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /** Endpoint override for DynamoDB (DynamoDB Local); unset in AWS. */
  DYNAMODB_ENDPOINT: optionalUrl,
  /** Orders table (order, items, idempotency records). */
  ORDERS_TABLE: z.string().min(3).default('Orders'),
  /** Outbox table whose stream the relay reads. */
  OUTBOX_TABLE: z.string().min(3).default('OrderOutbox'),
  /** OTLP endpoint for traces; tracing is off when unset. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
} as const;

/** Settings for services that talk to Kafka. */
export const kafkaSettings = {
  /** Comma-separated `host:port` list of Kafka bootstrap brokers. */
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:9092')
    .transform((value) =>
      value
        .split(',')
        .map((broker) => broker.trim())
        .filter((broker) => broker.length > 0),
    )
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1)),
  /** Kafka client id prefix, shown in broker logs and metrics. */
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  /** Topic the relay publishes order events to; dead letters go to `<topic>.dlq`. */
  ORDER_EVENTS_TOPIC: z.string().min(1).default('order-notification-event-topic'),
} as const;

/** The default port for a service, overridable by `PORT` (0 picks a free port). */
export function portSetting(fallback: number) {
  return port(fallback);
}
