import type { startLocalStack } from '@outbox/local-stack';

/** Stops the servers globalSetup started; servers it found running are left alone. */
export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as { __localStack?: Awaited<ReturnType<typeof startLocalStack>> }).__localStack;
  await stack?.stop();
}
