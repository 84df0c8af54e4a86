import { z } from 'zod';
import { commonSettings, kafkaSettings, parseConfig, portSetting } from '@outbox/shared';

const schema = z
  .object({
    ...commonSettings,
    ...kafkaSettings,
    /** Port of `/healthz`, `/readyz` and `/metrics`. */
    PORT: portSetting(9102),
    /** Table of notifications and the inbox (processed event ids). */
    NOTIFICATIONS_TABLE: z.string().min(3).default('Notifications'),
    /** Kafka consumer group id; every instance of the notifier shares it. */
    NOTIFIER_GROUP_ID: z.string().min(1).default('notifier'),
    /** Days an inbox marker is kept; must exceed how long Kafka may redeliver an event. */
    INBOX_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  })
  .transform((env) => ({
    service: 'notifier' as const,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    aws: { region: env.AWS_REGION, dynamodbEndpoint: env.DYNAMODB_ENDPOINT },
    tables: { notifications: env.NOTIFICATIONS_TABLE },
    kafka: {
      brokers: env.KAFKA_BROKERS,
      clientId: env.KAFKA_CLIENT_ID ?? 'notifier',
      topic: env.ORDER_EVENTS_TOPIC,
      groupId: env.NOTIFIER_GROUP_ID,
    },
    inboxRetentionDays: env.INBOX_RETENTION_DAYS,
    otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
  }));

/** The notifier's validated, frozen configuration. */
export type NotifierConfig = Readonly<z.infer<typeof schema>>;

/** Reads the notifier configuration from environment variables; lists every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): NotifierConfig {
  return parseConfig(schema, env);
}
