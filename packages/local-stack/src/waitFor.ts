import { setTimeout as delay } from 'node:timers/promises';

/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /** What is awaited, for the timeout error: "DynamoDB Local to answer on port 8000". */
  description: string;
  /** Overall deadline in milliseconds. */
  timeoutMs: number;
  /** Pause between two probes in milliseconds (default 100). */
  intervalMs?: number;
  /**
   * Called before every probe; a returned error ends the wait at once (for example the child
   * process that should become ready has exited).
   */
  abortIf?: () => Error | undefined;
}

/**
 * Polls `probe` until it returns a value other than `undefined` or `false`, and returns that
 * value. A probe that throws counts as "not yet"; the last such error becomes the cause of the
 * timeout error.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false>,
  options: WaitForOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const intervalMs = options.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    const aborted = options.abortIf?.();
    if (aborted) throw aborted;
    try {
      const result = await probe();
      if (result !== undefined && result !== false) return result;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() + intervalMs > deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`Timed out after ${options.timeoutMs} ms waiting for ${options.description}${reason}`, {
        cause: lastError,
      });
    }
    await delay(intervalMs);
  }
}
