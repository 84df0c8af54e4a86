/** Options for {@link exponentialBackoff}. */
export interface BackoffOptions {
  /** Delay before the first retry. */
  initialMs: number;
  /** No delay exceeds this. */
  maxMs: number;
  /** Growth per attempt (default 2). */
  multiplier?: number;
  /** Fraction of each delay drawn at random, 0 to 1 (default 0.2), so instances do not retry in step. */
  jitter?: number;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

/**
 * Capped exponential backoff: attempt 1 waits about `initialMs`, each later attempt `multiplier`
 * times longer, never more than `maxMs`. Returns the delay for a 1-based attempt number.
 */
export function exponentialBackoff(options: BackoffOptions): (attempt: number) => number {
  const multiplier = options.multiplier ?? 2;
  const jitter = Math.min(Math.max(options.jitter ?? 0.2, 0), 1);
  const random = options.random ?? Math.random;
  return (attempt) => {
    const exponent = Math.max(0, attempt - 1);
    const base = Math.min(options.maxMs, options.initialMs * multiplier ** Math.min(exponent, 64));
    // Jitter only shortens the delay, so the cap holds.
    return Math.round(base * (1 - jitter * random()));
  };
}
