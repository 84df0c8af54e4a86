/** Options for {@link cachedReadiness}. */
export interface CachedReadinessOptions {
  /** The real check: resolves when the dependencies answer, rejects (or resolves false) when not. */
  check: () => Promise<boolean>;
  /** How long an outcome, ready or not, answers every probe. */
  intervalMs: number;
  /** The clock; `Date.now` by default (injected so tests need not wait). */
  nowMs?: () => number;
}

/**
 * Readiness that runs its check at most once per interval, however many probes arrive: probes
 * during a check share it, probes after it get its outcome until the interval has passed. A
 * failure is remembered as well, so a struggling dependency is not hit harder by the probes.
 */
export function cachedReadiness(options: CachedReadinessOptions): () => Promise<boolean> {
  const nowMs = options.nowMs ?? Date.now;
  // The interval counts from when a check finished; while one runs, every probe shares it.
  let last: { outcome: Promise<boolean>; settledAt?: number } | undefined;
  return () => {
    if (last && (last.settledAt === undefined || nowMs() - last.settledAt < options.intervalMs)) return last.outcome;
    const current: { outcome: Promise<boolean>; settledAt?: number } = {
      outcome: Promise.resolve()
        .then(options.check)
        .catch(() => false)
        .then((ready) => {
          current.settledAt = nowMs();
          return ready;
        }),
    };
    last = current;
    return current.outcome;
  };
}
