import { z } from 'zod';
import { commonSettings, parseConfig, portSetting } from '@outbox/shared';

const optionalString = z.preprocess((value) => (value === '' ? undefined : value), z.string().min(1).optional());
const optionalUrl = z.preprocess((value) => (value === '' ? undefined : value), z.url().optional());

const schema = z
  .object({
    ...commonSettings,
    /** HTTP port of the API (`/orders`, `/openapi.json`). */
    PORT: portSetting(8080),
    /** Port of the operations endpoints `/healthz`, `/readyz` and `/metrics`, apart from the API. */
    OPS_PORT: portSetting(9100),
    /** Milliseconds one readiness check answers every `/readyz` probe (one DynamoDB call per interval). */
    READINESS_CACHE_MS: z.coerce.number().int().min(100).max(60000).default(2000),
    /** ISO-4217 currency of every order (one currency per deployment). */
    CURRENCY: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO-4217 code')
      .default('USD'),
    /** Days an outbox item stays in the table before TTL deletes it (backfill reads them). */
    OUTBOX_RETENTION_DAYS: z.coerce.number().int().min(2).max(365).default(7),
    /** Largest accepted request body, in bytes. */
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(1048576).default(65536),
    /** Hours an `Idempotency-Key` is remembered (its record's TTL). */
    IDEMPOTENCY_TTL_HOURS: z.coerce.number().int().min(1).max(720).default(24),
    /** How often the DynamoDB client tries a call before the API answers 503. */
    DYNAMODB_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
    /** Longest wait for a TCP connection to DynamoDB, in ms. */
    DYNAMODB_CONNECTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(2000),
    /** Longest wait for one DynamoDB request and its answer, in ms (each SDK attempt). */
    DYNAMODB_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(120000).default(5000),
    /** Seconds the `Retry-After` header of a 503 suggests. */
    RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).max(3600).default(1),
    /** `off` (local default) or `jwt`: every `/orders` request needs a valid bearer token. */
    AUTH_MODE: z.enum(['off', 'jwt']).default('off'),
    /** Expected `iss` claim (required when AUTH_MODE=jwt). */
    AUTH_JWT_ISSUER: optionalString,
    /** Expected `aud` claim (required when AUTH_MODE=jwt). */
    AUTH_JWT_AUDIENCE: optionalString,
    /** URL of the issuer's JSON Web Key Set (required when AUTH_MODE=jwt). */
    AUTH_JWKS_URL: optionalUrl,
    /** Comma-separated signature algorithms accepted in tokens. */
    AUTH_JWT_ALGORITHMS: z
      .string()
      .default('RS256,ES256')
      .transform((value) =>
        value
          .split(',')
          .map((alg) => alg.trim())
          .filter((alg) => alg.length > 0),
      )
      .pipe(
        z
          .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
          .min(1),
      ),
  })
  .superRefine((env, ctx) => {
    if (env.OPS_PORT !== 0 && env.OPS_PORT === env.PORT) {
      ctx.addIssue({ code: 'custom', path: ['OPS_PORT'], message: 'must differ from PORT' });
    }
    if (env.AUTH_MODE !== 'jwt') return;
    for (const key of ['AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE', 'AUTH_JWKS_URL'] as const) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required when AUTH_MODE=jwt' });
    }
  })
  .transform((env) => ({
    service: 'order-api' as const,
    port: env.PORT,
    opsPort: env.OPS_PORT,
    readinessCacheMs: env.READINESS_CACHE_MS,
    logLevel: env.LOG_LEVEL,
    aws: {
      region: env.AWS_REGION,
      dynamodbEndpoint: env.DYNAMODB_ENDPOINT,
      maxAttempts: env.DYNAMODB_MAX_ATTEMPTS,
      connectionTimeoutMs: env.DYNAMODB_CONNECTION_TIMEOUT_MS,
      requestTimeoutMs: env.DYNAMODB_REQUEST_TIMEOUT_MS,
    },
    tables: { orders: env.ORDERS_TABLE, outbox: env.OUTBOX_TABLE },
    currency: env.CURRENCY,
    outboxRetentionDays: env.OUTBOX_RETENTION_DAYS,
    maxBodyBytes: env.MAX_BODY_BYTES,
    idempotencyTtlSeconds: env.IDEMPOTENCY_TTL_HOURS * 3600,
    retryAfterSeconds: env.RETRY_AFTER_SECONDS,
    auth:
      env.AUTH_MODE === 'jwt'
        ? {
            mode: 'jwt' as const,
            issuer: env.AUTH_JWT_ISSUER as string,
            audience: env.AUTH_JWT_AUDIENCE as string,
            jwksUrl: env.AUTH_JWKS_URL as string,
            algorithms: env.AUTH_JWT_ALGORITHMS,
          }
        : { mode: 'off' as const },
    otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
  }));

/** The order-api's validated, frozen configuration. */
export type OrderApiConfig = Readonly<z.infer<typeof schema>>;

/** Reads the order-api configuration from environment variables; lists every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): OrderApiConfig {
  return parseConfig(schema, env);
}
