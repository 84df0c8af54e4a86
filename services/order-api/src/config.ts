import { z } from 'zod';
import { commonSettings, optionalSetting, parseConfig, portSetting } from '@outbox/shared';

/** https, or http to a loopback host (an issuer on this machine, as in tests). */
function isHttpsOrLoopback(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The order-api's settings (each described in the schema: the README's table is generated from it). */
export const configSchema = z
  .object({
    ...commonSettings,
    PORT: portSetting(8080).describe('HTTP port of the API (`/orders`, `/openapi.json`).'),
    OPS_PORT: portSetting(9100).describe(
      'Port of the operations endpoints `/healthz`, `/readyz` and `/metrics`, apart from the API; must differ from `PORT`.',
    ),
    READINESS_CACHE_MS: z.coerce
      .number()
      .int()
      .min(100)
      .max(60000)
      .default(2000)
      .describe('Milliseconds one readiness check answers every `/readyz` probe (one DynamoDB call per interval).'),
    CURRENCY: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO-4217 code')
      .default('USD')
      .describe('ISO-4217 currency of every order (one currency per deployment).'),
    OUTBOX_RETENTION_DAYS: z.coerce
      .number()
      .int()
      .min(2)
      .max(365)
      .default(7)
      .describe('Days an outbox item stays in the table before TTL deletes it (backfill reads them).'),
    MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(1048576)
      .default(65536)
      .describe('Largest accepted request body, in bytes.'),
    IDEMPOTENCY_TTL_HOURS: z.coerce
      .number()
      .int()
      .min(1)
      .max(720)
      .default(24)
      .describe("Hours an `Idempotency-Key` is remembered (its record's TTL)."),
    DYNAMODB_MAX_ATTEMPTS: z.coerce
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('How often the DynamoDB client tries a call before the API answers 503.'),
    DYNAMODB_CONNECTION_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(100)
      .max(60000)
      .default(2000)
      .describe('Longest wait for a TCP connection to DynamoDB, in ms.'),
    DYNAMODB_REQUEST_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(100)
      .max(120000)
      .default(5000)
      .describe('Longest wait for one DynamoDB request and its answer, in ms (each SDK attempt).'),
    RETRY_AFTER_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(1)
      .describe('Seconds the `Retry-After` header of a 503 (or a retriable 409) suggests.'),
    AUTH_MODE: z
      .enum(['off', 'jwt'])
      .default('off')
      .describe('`off` (local default) or `jwt`: every `/orders` request needs a valid bearer token.'),
    AUTH_JWT_ISSUER: optionalSetting(z.string().min(1)).describe('Expected `iss` claim (required when AUTH_MODE=jwt).'),
    AUTH_JWT_AUDIENCE: optionalSetting(z.string().min(1)).describe(
      'Expected `aud` claim (required when AUTH_MODE=jwt).',
    ),
    AUTH_JWKS_URL: optionalSetting(z.url()).describe(
      "URL of the issuer's JSON Web Key Set (required when AUTH_MODE=jwt): https, or http to a loopback host only.",
    ),
    AUTH_CUSTOMER_ID_CLAIM: z
      .string()
      .min(1)
      .default('sub')
      .describe("The token claim that holds the caller's customer id."),
    AUTH_ADMIN_SCOPE: optionalSetting(z.string().min(1)).describe(
      "A scope (in the token's `scope` or `scp` claim) that may act on any customer's orders; none when unset.",
    ),
    AUTH_JWT_MAX_AGE_SECONDS: optionalSetting(z.coerce.number().int().min(1).max(604800)).describe(
      'When set, tokens need `iat` and are refused once older than this many seconds.',
    ),
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
      )
      .describe('Comma-separated signature algorithms accepted in tokens.'),
  })
  .superRefine((env, ctx) => {
    if (env.OPS_PORT !== 0 && env.OPS_PORT === env.PORT) {
      ctx.addIssue({ code: 'custom', path: ['OPS_PORT'], message: 'must differ from PORT' });
    }
    if (env.AUTH_MODE !== 'jwt') return;
    for (const key of ['AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE', 'AUTH_JWKS_URL'] as const) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required when AUTH_MODE=jwt' });
    }
    // Keys fetched over plain HTTP could be swapped on the way: only loopback (a local issuer) may skip TLS.
    if (env.AUTH_JWKS_URL && !isHttpsOrLoopback(new URL(env.AUTH_JWKS_URL))) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_JWKS_URL'],
        message: 'must be an https URL (http only on loopback: localhost, 127.0.0.0/8, [::1])',
      });
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
            customerIdClaim: env.AUTH_CUSTOMER_ID_CLAIM,
            ...(env.AUTH_ADMIN_SCOPE === undefined ? {} : { adminScope: env.AUTH_ADMIN_SCOPE }),
            ...(env.AUTH_JWT_MAX_AGE_SECONDS === undefined ? {} : { maxTokenAgeSeconds: env.AUTH_JWT_MAX_AGE_SECONDS }),
          }
        : { mode: 'off' as const },
    otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
  }));

/** The order-api's validated, frozen configuration. */
export type OrderApiConfig = Readonly<z.infer<typeof configSchema>>;

/** Reads the order-api configuration from environment variables; lists every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): OrderApiConfig {
  return parseConfig(configSchema, env);
}
