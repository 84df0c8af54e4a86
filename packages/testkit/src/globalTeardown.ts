import { runState } from './globalSetup';

/**
 * Stops the servers globalSetup started, after the last project that used them; servers it found
 * running are left alone.
 */
export default async function globalTeardown(): Promise<void> {
  runState.__localStackUsers = (runState.__localStackUsers ?? 1) - 1;
  if (runState.__localStackUsers > 0) return;
  const stack = runState.__localStack;
  runState.__localStack = undefined;
  await stack?.stop();
}
