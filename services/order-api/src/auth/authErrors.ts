import { AppError } from '@outbox/shared';

/** A 401 for a request without a usable token. */
export function missingToken(): AppError {
  return new AppError('auth.missing_token', 'This request needs an Authorization: Bearer token', { httpStatus: 401 });
}

/** A 401 for a token that did not verify. */
export function invalidToken(reason: string, cause?: unknown): AppError {
  return new AppError('auth.invalid_token', `The bearer token is not valid (${reason})`, { httpStatus: 401, cause });
}
