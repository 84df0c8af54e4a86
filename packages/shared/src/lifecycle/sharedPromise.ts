/**
 * Wraps an async function so that every call after the first returns the first call's promise:
 * makes `stop()` idempotent and safe to call concurrently.
 */
export function sharedPromise<T>(fn: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => {
    promise ??= fn();
    return promise;
  };
}
