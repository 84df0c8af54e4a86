import { AppError } from '@outbox/shared';
import type { Authenticator } from './Authenticator';
import { invalidToken } from './authErrors';
import { callerFromClaims } from './callerFromClaims';

/** Options for {@link createJwtAuthenticator}. */
export interface JwtAuthenticatorOptions {
  issuer: string;
  audience: string;
  /** The issuer's JSON Web Key Set; fetched on demand and cached by jose. */
  jwksUrl: string;
  /** Accepted signature algorithms (never `none`, never HMAC with a public key). */
  algorithms: readonly string[];
  /** The claim holding the caller's customer id. */
  customerIdClaim: string;
  /** The scope that may act on any customer's orders; none when unset. */
  adminScope?: string;
  /** When set, tokens need `iat` and are refused once older than this many seconds. */
  maxTokenAgeSeconds?: number;
  /** Seconds of clock skew allowed on `exp`/`nbf`/`iat`; default 30. */
  clockToleranceSeconds?: number;
  /** Milliseconds to wait for the key set; default 5000. */
  jwksTimeoutMs?: number;
}

/**
 * Builds an {@link Authenticator} that verifies JWTs with jose against a remote JWKS: signature,
 * algorithm, `iss`, `aud`, `exp` (required), `sub` (required), `nbf`, and the token's age when
 * a maximum is configured; then reads the caller (customer id claim, admin scope). jose is
 * ESM-only, so it is loaded with a native dynamic `import()`, which TypeScript keeps as is in
 * this CommonJS package.
 */
export async function createJwtAuthenticator(options: JwtAuthenticatorOptions): Promise<Authenticator> {
  const jose = await import('jose');
  const keySet = jose.createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: options.jwksTimeoutMs ?? 5000 });
  return async (token) => {
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jose.jwtVerify(token, keySet, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: [...options.algorithms],
        clockTolerance: options.clockToleranceSeconds ?? 30,
        // A token without `exp` would be valid for ever; one without `sub` names nobody.
        requiredClaims: ['exp', 'sub'],
        ...(options.maxTokenAgeSeconds === undefined ? {} : { maxTokenAge: options.maxTokenAgeSeconds }),
      }));
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
      // Claim failures name the claim ('missing required "exp" claim'): safe, and useful to the caller.
      const claimFailure =
        error instanceof jose.errors.JWTClaimValidationFailed || error instanceof jose.errors.JWTExpired;
      throw invalidToken(claimFailure ? error.message : error.code, error);
    }
    return callerFromClaims(claims, { customerIdClaim: options.customerIdClaim, adminScope: options.adminScope });
  };
}
