import { ConfigError } from '@outbox/shared';
import { loadConfig } from '../src/config';

describe('order-api configuration', () => {
  test('When nothing is set, then authentication is off, keys live 24 h and a 503 asks for a 1 s wait', () => {
    const config = loadConfig({});
    expect(config.auth).toEqual({ mode: 'off' });
    expect(config.idempotencyTtlSeconds).toBe(24 * 3600);
    expect(config.retryAfterSeconds).toBe(1);
    expect(config.aws.maxAttempts).toBe(3);
    expect(config.port).toBe(8080);
    expect(config.opsPort).toBe(9100);
    expect(config.readinessCacheMs).toBe(2000);
    expect(config.aws.connectionTimeoutMs).toBe(2000);
    expect(config.aws.requestTimeoutMs).toBe(5000);
    expect(Object.isFrozen(config)).toBe(true);
  });

  test('When the ops port, readiness interval and DynamoDB timeouts are set, then they are read; the ops port must differ from the API port', () => {
    const config = loadConfig({
      OPS_PORT: '9200',
      READINESS_CACHE_MS: '500',
      DYNAMODB_CONNECTION_TIMEOUT_MS: '300',
      DYNAMODB_REQUEST_TIMEOUT_MS: '1500',
    });
    expect(config.opsPort).toBe(9200);
    expect(config.readinessCacheMs).toBe(500);
    expect(config.aws).toMatchObject({ connectionTimeoutMs: 300, requestTimeoutMs: 1500 });
    expect(() => loadConfig({ PORT: '8080', OPS_PORT: '8080' })).toThrow(/OPS_PORT: must differ from PORT/);
    expect(() => loadConfig({ READINESS_CACHE_MS: '0', DYNAMODB_REQUEST_TIMEOUT_MS: 'soon' })).toThrow(
      /READINESS_CACHE_MS[\s\S]*DYNAMODB_REQUEST_TIMEOUT_MS/,
    );
  });

  test('When JWT authentication is configured, then issuer, audience, key set URL and algorithms are read', () => {
    const config = loadConfig({
      AUTH_MODE: 'jwt',
      AUTH_JWT_ISSUER: 'https://issuer.test/',
      AUTH_JWT_AUDIENCE: 'order-api',
      AUTH_JWKS_URL: 'https://issuer.test/.well-known/jwks.json',
      AUTH_JWT_ALGORITHMS: 'ES256, RS256',
      IDEMPOTENCY_TTL_HOURS: '48',
    });
    expect(config.auth).toEqual({
      mode: 'jwt',
      issuer: 'https://issuer.test/',
      audience: 'order-api',
      jwksUrl: 'https://issuer.test/.well-known/jwks.json',
      algorithms: ['ES256', 'RS256'],
      customerIdClaim: 'sub',
    });
    expect(config.idempotencyTtlSeconds).toBe(48 * 3600);
  });

  test('When the customer claim, admin scope and maximum token age are set, then they are read', () => {
    const config = loadConfig({
      AUTH_MODE: 'jwt',
      AUTH_JWT_ISSUER: 'https://issuer.test/',
      AUTH_JWT_AUDIENCE: 'order-api',
      AUTH_JWKS_URL: 'https://issuer.test/.well-known/jwks.json',
      AUTH_CUSTOMER_ID_CLAIM: 'customer_id',
      AUTH_ADMIN_SCOPE: 'orders:admin',
      AUTH_JWT_MAX_AGE_SECONDS: '900',
    });
    expect(config.auth).toMatchObject({
      customerIdClaim: 'customer_id',
      adminScope: 'orders:admin',
      maxTokenAgeSeconds: 900,
    });
  });

  test('When the JWKS URL is plain http to a host other than loopback, then loading fails; https and loopback http pass', () => {
    const jwt = (jwksUrl: string) => ({
      AUTH_MODE: 'jwt',
      AUTH_JWT_ISSUER: 'https://issuer.test/',
      AUTH_JWT_AUDIENCE: 'order-api',
      AUTH_JWKS_URL: jwksUrl,
    });
    for (const refused of [
      'http://issuer.test/jwks.json',
      'http://10.0.0.5/jwks.json',
      'http://localhost.evil.test/jwks.json',
      'ftp://issuer.test/jwks.json',
    ]) {
      expect(() => loadConfig(jwt(refused))).toThrow(/AUTH_JWKS_URL: must be an https URL/);
    }
    for (const accepted of [
      'https://issuer.test/jwks.json',
      'http://127.0.0.1:9999/jwks.json',
      'http://localhost:9999/jwks.json',
      'http://[::1]:9999/jwks.json',
    ]) {
      expect(loadConfig(jwt(accepted)).auth).toMatchObject({ jwksUrl: accepted });
    }
    expect(() => loadConfig({ ...jwt('https://issuer.test/jwks.json'), AUTH_JWT_MAX_AGE_SECONDS: '0' })).toThrow(
      /AUTH_JWT_MAX_AGE_SECONDS/,
    );
  });

  test('When AUTH_MODE=jwt lacks its settings, then loading fails listing every missing one', () => {
    let error: unknown;
    try {
      loadConfig({ AUTH_MODE: 'jwt' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'AUTH_JWT_ISSUER: is required when AUTH_MODE=jwt',
      'AUTH_JWT_AUDIENCE: is required when AUTH_MODE=jwt',
      'AUTH_JWKS_URL: is required when AUTH_MODE=jwt',
    ]);
  });

  test('When values are out of range, then every problem is listed', () => {
    expect(() => loadConfig({ IDEMPOTENCY_TTL_HOURS: '0', AUTH_MODE: 'maybe', AUTH_JWT_ALGORITHMS: 'HS256' })).toThrow(
      /IDEMPOTENCY_TTL_HOURS[\s\S]*AUTH_MODE[\s\S]*AUTH_JWT_ALGORITHMS/,
    );
  });
});
