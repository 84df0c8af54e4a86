import { onShutdownSignal, shutdownTracing } from '@outbox/shared';
import { loadConfig } from './config';
import { start, type NotifierHandle } from './start';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const running: { handle?: NotifierHandle } = {};
  let crashed = false;
  // A consumer that crashed for good leaves nothing to do here: stop what can be stopped (bounded)
  // and exit non-zero, so the orchestrator starts a fresh process that rejoins the group.
  const onFatal = () => {
    if (crashed) return;
    crashed = true;
    process.exitCode = 1;
    setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 1000).unref();
    // A crash while starting comes before the handle exists: then there is nothing to stop.
    void Promise.resolve(running.handle?.stop())
      .catch(() => undefined)
      .finally(() => process.exit(1));
  };
  const handle = await start(config, { onFatal });
  running.handle = handle;
  onShutdownSignal(async () => {
    await handle.stop();
    await shutdownTracing();
  }, handle.logger);
}

main().catch((error: unknown) => {
  // The logger may not exist yet (bad config): standard error is the one safe place.
  process.stderr.write(`notifier failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
