import { setTimeout as delay } from 'node:timers/promises';

/** Options for {@link pollUntil}. */
export interface PollUntilOptions {
  /** Give up after this long (default 20 s); the last probe error becomes the cause. */
  timeoutMs?: number;
  /** Pause between two probes (default 50 ms). */
  intervalMs?: number;
  /** What is awaited, for the timeout message: "DynamoDB Local to answer on port 8000". */
  what?: string;
  /**
   * Called before every probe; a returned error ends the wait at once (for example the child
   * process that should become ready has exited).
   */
  abortIf?: () => Error | undefined;
}

/**
 * Calls `probe` until it returns a value other than `undefined`/`false` without throwing, and
 * returns that value; fails when the deadline passes. For code that waits on a server it started
 * or a resource it created (a topic's leaders, a table becoming ACTIVE); tests use the testkit's
 * `waitFor`, which is this function.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: PollUntilOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 20000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const aborted = options.abortIf?.();
    if (aborted) throw aborted;
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}${reason}`, {
        cause: lastError,
      });
    }
    await delay(Math.min(options.intervalMs ?? 50, Math.max(1, deadline - Date.now())));
  }
}
