import { z } from 'zod';
import {
  checkKafkaSettings,
  commonSettings,
  kafkaConfigFromSettings,
  kafkaSettings,
  optionalSetting,
  parseConfig,
  portSetting,
} from '@outbox/shared';

const millis = (fallback: number, min = 0) => z.coerce.number().int().min(min).max(86_400_000).default(fallback);

/** The notifier's settings (each described in the schema: the README's table is generated from it). */
export const configSchema = z
  .object({
    ...commonSettings,
    ...kafkaSettings,
    PORT: portSetting(9102).describe('Port of `/healthz`, `/readyz` and `/metrics`.'),
    NOTIFICATIONS_TABLE: z
      .string()
      .min(3)
      .default('Notifications')
      .describe('Table of notifications, the inbox (processed event ids) and the per-aggregate cursors.'),
    NOTIFIER_GROUP_ID: z
      .string()
      .min(1)
      .default('notifier')
      .describe('Kafka consumer group id; every instance of the notifier shares it.'),
    INBOX_RETENTION_DAYS: z.coerce
      .number()
      .int()
      .min(1)
      .max(3650)
      .default(30)
      .describe('Days an inbox marker is kept; must exceed how long Kafka may redeliver an event.'),
    NOTIFIER_PARTITION_CONCURRENCY: z.coerce
      .number()
      .int()
      .min(1)
      .max(256)
      .default(3)
      .describe('Partitions whose fetched batches are taken at the same time.'),
    NOTIFIER_MAX_IN_FLIGHT: z.coerce
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(16)
      .describe(
        'Events of one partition processed at the same time, each of a different key (aggregate); events of one key stay strictly in order. At the bound the partition stops fetching.',
      ),
    NOTIFIER_COMMIT_INTERVAL_MS: millis(100).describe(
      'Offsets are committed at most this often per partition (0: whenever the commit point moves, one commit per event at worst). A crash replays at most this much finished work, which the inbox turns into no-ops.',
    ),
    NOTIFIER_GAP_TIMEOUT_MS: millis(60_000, 1).describe(
      'How long an event that skips ahead (`seq > lastSeq + 1`) is held before it is dead-lettered as `gap`.',
    ),
    NOTIFIER_GAP_RECHECK_MS: millis(1_000, 10).describe(
      'How often held events are checked against the gap timeout; also the first retry delay of a held aggregate.',
    ),
    NOTIFIER_GAP_RECHECK_MAX_MS: millis(30_000, 10).describe(
      'Cap of the backoff between retries of one held aggregate by the sweep.',
    ),
    NOTIFIER_HELD_MAX_EVENTS: z.coerce
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(1_000)
      .describe(
        'Most events held for a gap per partition (in-flight ones counted, as they may become held); at the cap the partition is paused.',
      ),
    NOTIFIER_HELD_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(2 ** 31)
      .default(16 * 1024 * 1024)
      .describe(
        'Most bytes (keys and values) held for a gap per partition, in-flight ones counted; at the cap the partition is paused.',
      ),
    NOTIFIER_RETRY_INITIAL_MS: millis(200, 1).describe(
      'First wait before an event is retried after a transient error (DynamoDB or webhook unavailable); its key waits meanwhile.',
    ),
    NOTIFIER_RETRY_MAX_MS: millis(30_000, 1).describe(
      'Cap of the exponential backoff between retries of a transient error.',
    ),
    KAFKA_SESSION_TIMEOUT_MS: millis(30_000, 1000).describe(
      'Kafka consumer session timeout: how long the group waits for a silent member.',
    ),
    KAFKA_HEARTBEAT_INTERVAL_MS: millis(3_000, 100).describe(
      'Kafka consumer heartbeat interval; must be below the session timeout.',
    ),
    KAFKA_FETCH_MAX_WAIT_MS: millis(1_000, 10).describe(
      'Longest a fetch waits on the broker for new records; also bounds how soon a resumed partition is fetched again, and how long a batch waits for a free in-flight slot before its partition pauses.',
    ),
    WEBHOOK_URL: optionalSetting(z.url()).describe('Optional webhook channel: every notification is POSTed here.'),
    WEBHOOK_SECRET: optionalSetting(z.string().min(16)).describe(
      'HMAC-SHA256 key for the `x-webhook-signature` header; required with WEBHOOK_URL.',
    ),
    WEBHOOK_TIMEOUT_MS: millis(5_000, 1).describe('Timeout of one webhook request; a timeout is retried like a 5xx.'),
    WEBHOOK_MAX_ATTEMPTS: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .describe('Failed webhook attempts per event after which it is dead-lettered as `webhook_exhausted`.'),
    WEBHOOK_MAX_RETRY_MS: millis(600_000, 1).describe(
      "Time since an event's first failed webhook attempt after which it is dead-lettered as `webhook_exhausted`.",
    ),
    SHUTDOWN_TIMEOUT_MS: millis(15_000, 100).describe(
      'Upper bound for a graceful stop (finish in-flight work, commit, leave the group); past it the process exits 1.',
    ),
  })
  .superRefine((env, ctx) => {
    if (env.KAFKA_HEARTBEAT_INTERVAL_MS >= env.KAFKA_SESSION_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['KAFKA_HEARTBEAT_INTERVAL_MS'],
        message: 'must be below KAFKA_SESSION_TIMEOUT_MS',
      });
    }
    if (env.NOTIFIER_RETRY_INITIAL_MS > env.NOTIFIER_RETRY_MAX_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['NOTIFIER_RETRY_INITIAL_MS'],
        message: 'must not exceed NOTIFIER_RETRY_MAX_MS',
      });
    }
    if (env.NOTIFIER_GAP_RECHECK_MS > env.NOTIFIER_GAP_RECHECK_MAX_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['NOTIFIER_GAP_RECHECK_MS'],
        message: 'must not exceed NOTIFIER_GAP_RECHECK_MAX_MS',
      });
    }
    if (env.WEBHOOK_URL && !env.WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_SECRET'], message: 'is required when WEBHOOK_URL is set' });
    }
  })
  .superRefine(checkKafkaSettings)
  .transform((env) => ({
    service: 'notifier' as const,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    aws: { region: env.AWS_REGION, dynamodbEndpoint: env.DYNAMODB_ENDPOINT },
    tables: { notifications: env.NOTIFICATIONS_TABLE },
    kafka: {
      ...kafkaConfigFromSettings(env),
      clientId: env.KAFKA_CLIENT_ID ?? 'notifier',
      groupId: env.NOTIFIER_GROUP_ID,
      sessionTimeoutMs: env.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: env.KAFKA_HEARTBEAT_INTERVAL_MS,
      fetchMaxWaitMs: env.KAFKA_FETCH_MAX_WAIT_MS,
    },
    consumer: {
      partitionConcurrency: env.NOTIFIER_PARTITION_CONCURRENCY,
      maxInFlight: env.NOTIFIER_MAX_IN_FLIGHT,
      commitIntervalMs: env.NOTIFIER_COMMIT_INTERVAL_MS,
      gapTimeoutMs: env.NOTIFIER_GAP_TIMEOUT_MS,
      gapRecheckMs: env.NOTIFIER_GAP_RECHECK_MS,
      gapRecheckMaxMs: env.NOTIFIER_GAP_RECHECK_MAX_MS,
      heldMaxEvents: env.NOTIFIER_HELD_MAX_EVENTS,
      heldMaxBytes: env.NOTIFIER_HELD_MAX_BYTES,
      retry: { initialMs: env.NOTIFIER_RETRY_INITIAL_MS, maxMs: env.NOTIFIER_RETRY_MAX_MS },
    },
    webhook:
      env.WEBHOOK_URL && env.WEBHOOK_SECRET
        ? { url: env.WEBHOOK_URL, secret: env.WEBHOOK_SECRET, timeoutMs: env.WEBHOOK_TIMEOUT_MS }
        : undefined,
    webhookRetry: { maxAttempts: env.WEBHOOK_MAX_ATTEMPTS, maxMs: env.WEBHOOK_MAX_RETRY_MS },
    inboxRetentionDays: env.INBOX_RETENTION_DAYS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
  }));

/** The notifier's validated, frozen configuration. */
export type NotifierConfig = Readonly<z.infer<typeof configSchema>>;

/** Reads the notifier configuration from environment variables; lists every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): NotifierConfig {
  return parseConfig(configSchema, env);
}
