import { ConfigError } from '@outbox/shared';
import { loadConfig } from '../src/config';

describe('order-api configuration', () => {
  test('When nothing is set, then authentication is off, keys live 24 h and a 503 asks for a 1 s wait', () => {
    const config = loadConfig({});
    expect(config.auth).toEqual({ mode: 'off' });
    expect(config.idempotencyTtlSeconds).toBe(24 * 3600);
    expect(config.retryAfterSeconds).toBe(1);
    expect(config.aws.maxAttempts).toBe(3);
    expect(Object.isFrozen(config)).toBe(true);
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
    });
    expect(config.idempotencyTtlSeconds).toBe(48 * 3600);
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
