import { z } from 'zod';
import { KAFKA_SECURITY_MODES } from '../kafka/KafkaSecurity';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** An optional string setting: unset or empty means "not configured". */
const optionalString = z.preprocess((value) => (value === '' ? undefined : value), z.string().min(1).optional());

/** An optional integer setting: unset or empty means "the definition's default". */
const optionalInt = (min: number, max: number) =>
  z.preprocess((value) => (value === '' ? undefined : value), z.coerce.number().int().min(min).max(max).optional());

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
  /**
   * How clients reach the brokers: `plaintext` (local), `tls`, `sasl-iam` (MSK IAM: OAUTHBEARER
   * over TLS, port 9098) or `sasl-scram-sha-512` (SCRAM over TLS, MSK port 9096).
   */
  KAFKA_SECURITY: z.enum(KAFKA_SECURITY_MODES).default('plaintext'),
  /** PEM file of the CA that signed the brokers' certificates; the system CAs when unset (MSK). */
  KAFKA_TLS_CA_FILE: optionalString,
  /** SCRAM user name (with KAFKA_SECURITY=sasl-scram-sha-512), e.g. from Secrets Manager. */
  KAFKA_SASL_USERNAME: optionalString,
  /** SCRAM password, e.g. from Secrets Manager. */
  KAFKA_SASL_PASSWORD: optionalString,
  /** SCRAM credentials as one JSON secret `{"username":"…","password":"…"}` (MSK's secret format). */
  KAFKA_SASL_SECRET: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          // Never echo the value: it is a secret.
          ctx.addIssue({ code: 'custom', message: 'must be JSON {"username":"…","password":"…"}' });
          return z.NEVER;
        }
      })
      .pipe(
        z.object(
          { username: z.string().min(1), password: z.string().min(1) },
          { error: 'must be JSON {"username":"…","password":"…"}' },
        ),
      )
      .optional(),
  ),
  /** Region the MSK IAM token is signed for; else taken from the broker host names, else AWS_REGION. */
  KAFKA_IAM_REGION: optionalString,
  /**
   * When true, the service creates the events topic and its DLQ at start if missing (idempotent)
   * and refuses to start when they differ from their definition. Off locally (the stack does it).
   */
  KAFKA_ENSURE_TOPICS: z
    .enum(['true', 'false', ''])
    .default('false')
    .transform((value) => value === 'true'),
  /** Partitions of each topic (`topicDefinitions` default when unset: 3). */
  KAFKA_TOPIC_PARTITIONS: optionalInt(1, 10_000),
  /** Replication factor (default 1; 3 on provisioned MSK; -1 for the cluster's default, MSK Serverless). */
  KAFKA_TOPIC_REPLICATION_FACTOR: optionalInt(-1, 32),
  /** `min.insync.replicas` of each topic (default: the cluster's; 2 on provisioned MSK; unset on MSK Serverless). */
  KAFKA_TOPIC_MIN_INSYNC_REPLICAS: optionalInt(1, 32),
} as const;

/** The default port for a service, overridable by `PORT` (0 picks a free port). */
export function portSetting(fallback: number) {
  return port(fallback);
}
