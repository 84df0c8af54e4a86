import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { AppError } from '@outbox/shared';
import type { IdempotencyRecord } from '../data/IdempotencyRecord';
import { callerOf } from './authentication';
import {
  ValidationError,
  WriteConflictError,
  idempotencyInProgress,
  idempotencyKeyReused,
  invalidIdempotencyKey,
} from '../domain/errors';

/** A response a handler computed, before it is sent (and, with a key, remembered). */
export interface HttpResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Turns a result into the record to store in the same transaction as the change. */
export type Remember = (result: HttpResult) => IdempotencyRecord;

/** Options for {@link respondIdempotently}. */
export interface IdempotencyOptions {
  findRecord(key: string, scope: string | undefined): Promise<IdempotencyRecord | undefined>;
  /** How long a key is remembered. */
  ttlSeconds: number;
  now: () => Date;
  /** Rounds of look-up and write before answering 409 `idempotency.in_progress`; default 5. */
  maxAttempts?: number;
  onReplay?: () => void;
}

/** The header, and what a key may look like: 1 to 255 visible ASCII characters. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
const KEY = /^[\x21-\x7e]{1,255}$/;

/** Deeper bodies are refused before hashing: no valid request nests beyond a few levels. */
const MAX_DEPTH = 32;

/** JSON with object keys sorted at every level, so key order and spacing do not change the hash. */
function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_DEPTH) {
    throw new ValidationError(
      [{ field: '(body)', message: `nests deeper than ${MAX_DEPTH} levels` }],
      'The request body nests too deeply',
    );
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item, depth + 1)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key], depth + 1)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Whose keys these are: a digest of the caller's subject (fixed length, no identifier stored),
 * so one caller's key never blocks or replays for another. `undefined` with authentication off.
 */
export function callerScope(subject: string | undefined): string | undefined {
  return subject === undefined ? undefined : createHash('sha256').update(subject).digest('hex');
}

/** SHA-256 over what makes a request "the same": method, path, caller and canonical body. */
export function requestHash(req: Request, subject: string | undefined): string {
  return createHash('sha256')
    .update(canonicalJson([req.method, `${req.baseUrl}${req.path}`, subject ?? '', req.body ?? null]))
    .digest('hex');
}

function send(res: Response, result: HttpResult): void {
  res
    .status(result.status)
    .set(result.headers ?? {})
    .json(result.body);
}

/**
 * Runs a state-changing handler under the request's `Idempotency-Key`, if it has one. With
 * authentication on, keys are the caller's own: the same key from two callers is two keys.
 *
 * - No key: runs the handler once.
 * - A live record with the same request hash: replays the stored status, headers and body
 *   (`Idempotent-Replayed: true`); nothing is written.
 * - A live record with another hash: 422 `idempotency.key_reused`.
 * - No record: runs the handler, whose transaction also puts the record on the condition that
 *   no live one exists. Of concurrent requests with one key exactly one commits; a loser sees
 *   the cancelled condition, reads the winner's record and replays it. Because the record
 *   commits with the order, a record is never visible before its order ("in progress" cannot
 *   be observed); only repeated DynamoDB transaction conflicts end in a retriable 409.
 * - The handler answers a conflict (409) but a record now exists: a twin with this key
 *   committed between our look-up and our read (a retried cancel whose first try was still
 *   in flight). The next round replays the twin's answer (or 422 if the requests differ).
 *
 * Only successes are remembered: a rejected request wrote nothing and answers the same again.
 */
export async function respondIdempotently(
  req: Request,
  res: Response,
  options: IdempotencyOptions,
  handler: (remember: Remember | undefined) => Promise<HttpResult>,
): Promise<void> {
  const key = req.get(IDEMPOTENCY_HEADER);
  if (key === undefined) return send(res, await handler(undefined));
  if (!KEY.test(key)) throw invalidIdempotencyKey();
  const subject = callerOf(res)?.subject;
  const scope = callerScope(subject);
  const hash = requestHash(req, subject);
  const maxAttempts = options.maxAttempts ?? 5;

  const replay = (stored: IdempotencyRecord): void => {
    if (stored.requestHash !== hash) throw idempotencyKeyReused();
    options.onReplay?.();
    res
      .status(stored.status)
      .set(stored.headers)
      .set('Idempotent-Replayed', 'true')
      .type('application/json')
      .send(stored.body);
  };

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const stored = await options.findRecord(key, scope);
    if (stored) return replay(stored);
    try {
      const result = await handler((outcome) => {
        const now = options.now();
        return {
          key,
          ...(scope === undefined ? {} : { scope }),
          requestHash: hash,
          status: outcome.status,
          body: JSON.stringify(outcome.body),
          headers: outcome.headers ?? {},
          createdAt: now.toISOString(),
          expiresAt: Math.floor(now.getTime() / 1000) + options.ttlSeconds,
        };
      });
      return send(res, result);
    } catch (error) {
      const lostRace =
        error instanceof WriteConflictError &&
        (error.reason === 'idempotency_key_taken' || error.reason === 'transaction_conflict');
      if (lostRace) continue;
      // A conflict (the order is already cancelled, or moved on) may be the work of a twin with
      // this key that committed after our look-up: its answer is ours, so look once more.
      if (error instanceof AppError && error.httpStatus === 409) {
        const twin = await options.findRecord(key, scope);
        if (twin) return replay(twin);
      }
      throw error;
    }
  }
  throw idempotencyInProgress();
}
