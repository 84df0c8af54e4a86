import { pollUntil, type PollUntilOptions } from '@outbox/shared';

/** Options for {@link waitFor}: a deadline (`timeoutMs`), the pause between probes, what is awaited. */
export type WaitForOptions = PollUntilOptions;

/**
 * Calls `probe` until it returns a value other than `undefined`/`false` without throwing, and
 * returns that value; fails when the deadline passes. Tests wait this way, never with a fixed sleep.
 */
export function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitForOptions = {},
): Promise<T> {
  return pollUntil(probe, options);
}
