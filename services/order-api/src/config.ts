import { z } from 'zod';
import { commonSettings, parseConfig, portSetting } from '@outbox/shared';

const schema = z
  .object({
    ...commonSettings,
    /** HTTP port of the API. */
    PORT: portSetting(8080),
    /** ISO-4217 currency of every order (one currency per deployment). */
    CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO-4217 code').default('USD'),
    /** Days an outbox item stays in the table before TTL deletes it (backfill reads them). */
    OUTBOX_RETENTION_DAYS: z.coerce.number().int().min(2).max(365).default(7),
    /** Largest accepted request body, in bytes. */
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(1048576).default(65536),
  })
  .transform((env) => ({
    service: 'order-api' as const,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    aws: { region: env.AWS_REGION, dynamodbEndpoint: env.DYNAMODB_ENDPOINT },
    tables: { orders: env.ORDERS_TABLE, outbox: env.OUTBOX_TABLE },
    currency: env.CURRENCY,
    outboxRetentionDays: env.OUTBOX_RETENTION_DAYS,
    maxBodyBytes: env.MAX_BODY_BYTES,
    otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
  }));

/** The order-api's validated, frozen configuration. */
export type OrderApiConfig = Readonly<z.infer<typeof schema>>;

/** Reads the order-api configuration from environment variables; lists every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): OrderApiConfig {
  return parseConfig(schema, env);
}
