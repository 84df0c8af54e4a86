import type { Logger } from '../observability/createLogger';

/**
 * A second signal this soon after the first is the same interrupt delivered twice: Ctrl-C goes
 * to the terminal's whole foreground process group, and `npm` forwards it to its child again.
 */
const DUPLICATE_SIGNAL_WINDOW_MS = 1000;

/**
 * Calls `stop` once on the first SIGTERM or SIGINT, then exits: 0 when `stop` resolved, 1 when
 * it failed. A signal within a second of the first is taken for the same one and ignored; a
 * later one while stopping exits at once with 130.
 */
export function onShutdownSignal(stop: () => Promise<void>, logger: Logger, now: () => number = Date.now): void {
  let firstAt: number | undefined;
  const handle = (signal: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      if (now() - firstAt < DUPLICATE_SIGNAL_WINDOW_MS) {
        logger.info({ signal }, 'same shutdown signal delivered again; still stopping');
        return;
      }
      logger.warn({ signal }, 'second signal while stopping; exiting now');
      process.exit(130);
    }
    firstAt = now();
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
