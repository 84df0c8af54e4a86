import { z } from 'zod';

/**
 * An optional setting: unset or empty means "not configured" (a variable cleared in a shell, a
 * Copilot manifest or a compose file is often set to the empty string rather than removed).
 * Any other value must satisfy `inner`.
 */
export function optionalSetting<T extends z.ZodType>(inner: T) {
  return z.preprocess((value) => (value === '' ? undefined : value), inner.optional());
}
