import pino from 'pino';

/** The JSON logger every service uses (pino). */
export type Logger = pino.Logger;

/** Options for {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Service name, added to every line as `service`. */
  service: string;
  level?: string;
  /** Where lines go; standard output by default. */
  destination?: pino.DestinationStream;
}

/** Creates a JSON logger with ISO timestamps and the service name on every line. */
export function createLogger(options: CreateLoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Never let secrets reach the logs, wherever they hide in a logged object.
      redact: { paths: ['*.authorization', '*.password', '*.secret', 'headers.authorization'], censor: '[redacted]' },
    },
    options.destination,
  );
}
