import { onShutdownSignal, shutdownTracing } from '@outbox/shared';
import { loadConfig } from './config';
import { start } from './start';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const handle = await start(config);
  onShutdownSignal(async () => {
    await handle.stop();
    await shutdownTracing();
  }, handle.logger);
}

main().catch((error: unknown) => {
  // The logger may not exist yet (bad config): standard error is the one safe place.
  process.stderr.write(`order-api failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
