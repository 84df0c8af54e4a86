import type { Caller } from '../domain/Caller';

/**
 * Verifies a bearer token: resolves with the caller it names, or rejects with an `AppError`
 * (401 `auth.invalid_token` for a bad token, 503 `auth.unavailable` when the key set cannot be
 * fetched).
 */
export type Authenticator = (token: string) => Promise<Caller>;
