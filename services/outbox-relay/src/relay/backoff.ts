/** Capped exponential backoff settings. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** The pause after another failure: starts at `initialMs`, doubles, never exceeds `maxMs`. */
export function nextFailureDelay(previousMs: number, options: BackoffOptions): number {
  return Math.min(options.maxMs, Math.max(options.initialMs, previousMs * 2));
}

/**
 * The pause before the next poll: none while records flow; when idle, 10 ms doubling up to
 * `idleMaxMs`, so an idle relay adds at most `idleMaxMs` of latency.
 */
export function nextIdleDelay(previousMs: number, progressed: boolean, idleMaxMs: number): number {
  if (progressed) return 0;
  return Math.min(idleMaxMs, Math.max(10, previousMs * 2));
}
