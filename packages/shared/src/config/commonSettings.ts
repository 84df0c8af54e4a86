import { z } from 'zod';
import { KAFKA_SECURITY_MODES } from '../kafka/KafkaSecurity';
import { SAMPLERS } from '../observability/samplerNames';
import { parseResourceAttributes } from '../observability/tracingResource';
import { optionalSetting } from './optionalSetting';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** An optional integer setting: unset or empty means "the definition's default". */
const optionalInt = (min: number, max: number) => optionalSetting(z.coerce.number().int().min(min).max(max));

/**
 * Environment settings every service shares, as zod shapes to spread into a service schema.
 * Each key is the environment variable's name; each description is the one the READMEs show.
 */
export const commonSettings = {
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Log level of the JSON logs.'),
  AWS_REGION: z.string().min(1).default('us-east-1').describe('AWS region for DynamoDB, DynamoDB Streams and Kinesis.'),
  DYNAMODB_ENDPOINT: optionalSetting(z.url()).describe(
    'Endpoint override for DynamoDB (DynamoDB Local); unset in AWS, the local stack sets it.',
  ),
  ORDERS_TABLE: z
    .string()
    .min(3)
    .default('Orders')
    .describe('Orders table (order, items, idempotency records); in AWS also from `ORDERS_TABLE_NAME`.'),
  OUTBOX_TABLE: z
    .string()
    .min(3)
    .default('OrderOutbox')
    .describe('Outbox table whose stream the relay reads; in AWS also from `ORDER_OUTBOX_TABLE_NAME`.'),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalSetting(z.url()).describe(
    'OTLP endpoint for traces; trace export is off when unset (see [Tracing](#tracing)).',
  ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalSetting(z.url()).describe(
    'The full URL spans are sent to, over `OTEL_EXPORTER_OTLP_ENDPOINT` (which gets `/v1/traces` appended).',
  ),
  OTEL_SERVICE_NAME: optionalSetting(z.string().min(1)).describe(
    'The `service.name` of the spans instead of the service’s own name.',
  ),
  OTEL_RESOURCE_ATTRIBUTES: optionalSetting(
    z.string().refine(
      (text) => {
        try {
          parseResourceAttributes({ OTEL_RESOURCE_ATTRIBUTES: text });
          return true;
        } catch {
          return false;
        }
      },
      { message: 'must be a list of key=value pairs (values percent-encoded), e.g. deployment.environment.name=prod' },
    ),
  ).describe(
    'Resource attributes of the spans, `key=value,key=value` (e.g. `deployment.environment.name=prod`); the manifests set the environment.',
  ),
  OTEL_TRACES_SAMPLER: z
    .enum(SAMPLERS)
    .default('parentbased_always_on')
    .describe(
      'Which new traces are kept: all, a share (`parentbased_traceidratio`) or none; a span with a parent follows it (see [Tracing](#tracing)).',
    ),
  OTEL_TRACES_SAMPLER_ARG: optionalSetting(z.coerce.number().min(0).max(1)).describe(
    'The share of new traces `parentbased_traceidratio` keeps, 0 to 1 (default 1).',
  ),
} as const;

/** Settings for services that talk to Kafka. */
export const kafkaSettings = {
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:9092')
    .transform((value) =>
      value
        .split(',')
        .map((broker) => broker.trim())
        .filter((broker) => broker.length > 0),
    )
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1))
    .describe('Comma-separated `host:port` list of Kafka bootstrap brokers.'),
  KAFKA_CLIENT_ID: z
    .string()
    .min(1)
    .optional()
    .describe("Kafka client id prefix, shown in broker logs and metrics; the service's name when unset."),
  ORDER_EVENTS_TOPIC: z
    .string()
    .min(1)
    .default('order-notification-event-topic')
    .describe('Topic the relay publishes order events to; dead letters go to `<topic>.dlq`.'),
  KAFKA_SECURITY: z
    .enum(KAFKA_SECURITY_MODES)
    .default('plaintext')
    .describe(
      'How clients reach the brokers: `plaintext` (local broker), `tls`, `sasl-iam` (MSK IAM: OAUTHBEARER over TLS, MSK port 9098) or `sasl-scram-sha-512` (SCRAM over TLS, MSK port 9096).',
    ),
  KAFKA_TLS_CA_FILE: optionalSetting(z.string().min(1)).describe(
    "PEM file of the CA that signed the brokers' certificates; unset trusts the system CAs (right for MSK).",
  ),
  KAFKA_SASL_USERNAME: optionalSetting(z.string().min(1)).describe(
    "SCRAM user name (with `KAFKA_SECURITY=sasl-scram-sha-512`); in ECS inject it with Copilot `secrets:` from Secrets Manager (`secretsmanager: '<name>:username::'`).",
  ),
  KAFKA_SASL_PASSWORD: optionalSetting(z.string().min(1)).describe(
    "SCRAM password; in ECS from Secrets Manager (`secretsmanager: '<name>:password::'`).",
  ),
  KAFKA_SASL_SECRET: optionalSetting(
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
      ),
  ).describe(
    'Or the SCRAM credentials as one JSON secret `{"username":"…","password":"…"}`, the format MSK\'s `AmazonMSK_…` SCRAM secrets have; the two variables win when both are set.',
  ),
  KAFKA_IAM_REGION: optionalSetting(z.string().min(1)).describe(
    'Region the MSK IAM token is signed for; else read from MSK broker host names (`….kafka[-serverless].<region>.amazonaws.com`), else `AWS_REGION`.',
  ),
  KAFKA_ENSURE_TOPICS: z
    .enum(['true', 'false', ''])
    .default('false')
    .transform((value) => value === 'true')
    .describe(
      '`true` in AWS: at start, create the topic and its `.dlq` when missing (idempotent) and refuse to start when they differ from their definition ([ADR](docs/adr/kafka-topics-at-service-start.md)). Off locally (the stack creates them).',
    ),
  KAFKA_TOPIC_PARTITIONS: optionalInt(1, 10_000).describe('Partitions of each topic; 3 when unset.'),
  KAFKA_TOPIC_REPLICATION_FACTOR: optionalInt(-1, 32).describe(
    "Replication factor of each topic; 1 when unset, `3` on provisioned MSK, `-1` (the cluster's default) on MSK Serverless.",
  ),
  KAFKA_TOPIC_MIN_INSYNC_REPLICAS: optionalInt(1, 32).describe(
    "`min.insync.replicas` of each topic; the cluster's when unset; `2` on provisioned MSK; leave unset on MSK Serverless (it does not accept the setting).",
  ),
} as const;

/** The default port for a service, overridable by `PORT` (0 picks a free port). */
export function portSetting(fallback: number) {
  return port(fallback);
}
