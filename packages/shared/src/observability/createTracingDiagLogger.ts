import type { DiagLogger } from '@opentelemetry/api';

/** Options for {@link createTracingDiagLogger}. */
export interface CreateTracingDiagLoggerOptions {
  service: string;
  /** The service's `LOG_LEVEL`: warnings are written at `warn` and below, errors up to `error`. */
  level?: string;
  /** Where a line goes; standard output by default (where the service's logger writes). */
  write?: (line: string) => void;
  /** Milliseconds since the epoch (injected by tests). */
  now?: () => number;
  /** The same message is written at most once per this many ms; repeats are counted into the next line. */
  repeatIntervalMs?: number;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Messages remembered for the repeat limit; the oldest is forgotten beyond this (errors may name hosts or ids). */
const REMEMBERED_MESSAGES = 100;

/**
 * OpenTelemetry's own warnings and errors (a failed span export, spans dropped from a full queue)
 * as JSON lines shaped like the service's logs (`level`, `time`, `service`, `msg`). Without a
 * logger the SDK says nothing at all. The tracing entry runs before pino may be loaded (pino is
 * patched for trace ids), so this writes its lines itself. A collector that stays down would log
 * an error per export: each message (numbers aside) is written at most once per
 * `repeatIntervalMs`, and the next line says how many were held back.
 */
export function createTracingDiagLogger(options: CreateTracingDiagLoggerOptions): DiagLogger {
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const now = options.now ?? Date.now;
  const interval = options.repeatIntervalMs ?? 60_000;
  const threshold = LEVELS.indexOf(options.level ?? 'info');
  const last = new Map<string, { at: number; held: number }>();

  const log =
    (level: 'warn' | 'error') =>
    (raw: string, ...args: unknown[]) => {
      if (LEVELS.indexOf(level) < threshold) return;
      const message = readableMessage(raw);
      const key = `${level} ${message.replace(/\d+/g, '#').slice(0, 120)}`;
      const at = now();
      const seen = last.get(key);
      if (seen && at - seen.at < interval) {
        seen.held += 1;
        return;
      }
      last.delete(key);
      last.set(key, { at, held: 0 });
      if (last.size > REMEMBERED_MESSAGES) last.delete(last.keys().next().value as string);
      const detail = args.length > 0 ? { detail: args.map((arg) => (arg instanceof Error ? arg.message : arg)) } : {};
      const repeated = seen && seen.held > 0 ? { repeatedSinceLast: seen.held } : {};
      write(
        `${JSON.stringify({ level, time: new Date(at).toISOString(), service: options.service, msg: `OpenTelemetry: ${message}`, ...detail, ...repeated })}\n`,
      );
    };
  const ignore = () => undefined;
  return { error: log('error'), warn: log('warn'), info: ignore, debug: ignore, verbose: ignore };
}

/**
 * The SDK's error handler logs an exception as its JSON (`{"stack", "message", "name"}`): keep
 * `name: message`, the stack is the exporter's own and says nothing about the fault.
 */
function readableMessage(raw: string): string {
  if (!raw.startsWith('{')) return raw;
  try {
    const parsed = JSON.parse(raw) as { name?: unknown; message?: unknown };
    if (typeof parsed.message !== 'string') return raw;
    return typeof parsed.name === 'string' ? `${parsed.name}: ${parsed.message}` : parsed.message;
  } catch {
    return raw;
  }
}
