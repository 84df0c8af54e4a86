import type { RequestHandler } from 'express';
import { AppError } from '@outbox/shared';

/** Who made a request, as a verified token says. */
export interface Principal {
  subject: string;
}

/**
 * Verifies a bearer token: resolves with the principal, or rejects with an {@link AppError}
 * (401 `auth.invalid_token` for a bad token, 503 when the key set cannot be fetched).
 */
export type Authenticator = (token: string) => Promise<Principal>;

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** A 401 for a request without a usable token. */
export function missingToken(): AppError {
  return new AppError('auth.missing_token', 'This request needs an Authorization: Bearer token', { httpStatus: 401 });
}

/** A 401 for a token that did not verify. */
export function invalidToken(reason: string, cause?: unknown): AppError {
  return new AppError('auth.invalid_token', `The bearer token is not valid (${reason})`, { httpStatus: 401, cause });
}

/** Middleware that lets a request through only with a token `authenticate` accepts. */
export function requireBearerToken(authenticate: Authenticator): RequestHandler {
  return async (req, res, next) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    if (!match) throw missingToken();
    res.locals.principal = await authenticate(match[1] as string);
    next();
  };
}
