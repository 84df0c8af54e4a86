import { AppError } from '@outbox/shared';
import { invalidToken, type Authenticator } from '../http/authentication';

/** Options for {@link createJwtAuthenticator}. */
export interface JwtAuthenticatorOptions {
  issuer: string;
  audience: string;
  /** The issuer's JSON Web Key Set; fetched on demand and cached by jose. */
  jwksUrl: string;
  /** Accepted signature algorithms (never `none`, never HMAC with a public key). */
  algorithms: readonly string[];
  /** Seconds of clock skew allowed on `exp`/`nbf`; default 30. */
  clockToleranceSeconds?: number;
  /** Milliseconds to wait for the key set; default 5000. */
  jwksTimeoutMs?: number;
}

/**
 * Builds an {@link Authenticator} that verifies JWTs with jose against a remote JWKS: signature,
 * algorithm, `iss`, `aud`, `exp` and `nbf`. jose is ESM-only, so it is loaded with a native
 * dynamic `import()`, which TypeScript keeps as is in this CommonJS package.
 */
export async function createJwtAuthenticator(options: JwtAuthenticatorOptions): Promise<Authenticator> {
  const jose = await import('jose');
  const keySet = jose.createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: options.jwksTimeoutMs ?? 5000 });
  return async (token) => {
    try {
      const { payload } = await jose.jwtVerify(token, keySet, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: [...options.algorithms],
        clockTolerance: options.clockToleranceSeconds ?? 30,
      });
      return { subject: payload.sub ?? '' };
    } catch (error) {
      // A key set we cannot fetch or read is our outage, not the caller's fault: jose reports a
      // failed fetch as a plain error, a timeout as JWKSTimeout, a non-200 or bad JSON as the
      // generic JOSEError, and a malformed set as JWKSInvalid.
      const outage =
        !(error instanceof jose.errors.JOSEError) ||
        error instanceof jose.errors.JWKSTimeout ||
        error instanceof jose.errors.JWKSInvalid ||
        error.code === 'ERR_JOSE_GENERIC';
      if (outage) {
        throw new AppError('auth.unavailable', 'The token could not be verified right now; retry later', {
          httpStatus: 503,
          retriable: true,
          cause: error,
        });
      }
      throw invalidToken(error.code, error);
    }
  };
}
