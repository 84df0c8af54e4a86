import { DiagLogLevel, context, diag, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { createTracingDiagLogger } from './createTracingDiagLogger';
import { SpanExportStats, type SpanExportCounts } from './SpanExportStats';
import { resourceAttributesFrom } from './tracingResource';
import { samplerFrom } from './tracingSampler';

// This module is loaded by each service's `instrumentation.ts` before anything else: it must not
// import the shared index (or anything that loads http, express, the AWS SDK, kafkajs or pino),
// or those modules would be loaded before they are patched.

/** Options for {@link startTracing}. */
export interface StartTracingOptions {
  service: string;
  /**
   * The process environment. `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the full URL spans go to, else
   * `OTEL_EXPORTER_OTLP_ENDPOINT`: OTLP/HTTP base URL (e.g.
   * `http://collector:4318`), spans go to `<url>/v1/traces`; unset, nothing is exported.
   * `OTEL_BSP_SCHEDULE_DELAY`: milliseconds between exports (5000). `OTEL_BSP_MAX_QUEUE_SIZE`:
   * spans held for export, beyond which new ones are dropped (8192). `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`:
   * spans per export request (2048, at most the queue's size). `OTEL_TRACES_SAMPLER`,
   * `OTEL_TRACES_SAMPLER_ARG`: which new traces are kept (see {@link samplerFrom}).
   * `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`: the spans' resource (see
   * {@link resourceAttributesFrom}). `LOG_LEVEL`:
   * of the SDK's own warnings and errors.
   */
  env: Record<string, string | undefined>;
  /**
   * Patch kafkajs (on by default). Its producer patch gives every message of a `send` the active
   * context and overwrites `traceparent`; the relay, whose batches mix many orders' traces, turns
   * it off and writes one producer span per record itself.
   */
  kafkajs?: boolean;
}

/** The process's tracing; `shutdown()` flushes spans not yet exported. */
export interface Tracing {
  /** True when spans are exported over OTLP. */
  readonly exporting: boolean;
  /** What became of the spans handed to the exporter; undefined when nothing is exported. */
  spanExportCounts(): SpanExportCounts | undefined;
  shutdown(): Promise<void>;
}

/** Ops endpoints are scraped every few seconds: traces of them would drown the orders' traces. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

// On globalThis, as @opentelemetry/api keeps its own: `main.js` finds what the `--import` entry started.
const ACTIVE = Symbol.for('outbox.tracing');
type WithTracing = typeof globalThis & { [ACTIVE]?: Tracing };

/**
 * Starts OpenTelemetry tracing for the process: a tracer provider (W3C `traceparent` and
 * `tracestate`, plus baggage) with the http, express, undici (fetch), AWS SDK, kafkajs and pino
 * instrumentations. Context propagates and logs carry `trace_id`/`span_id` whether or not spans
 * are exported; they are exported over OTLP/HTTP (JSON) only when `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (see {@link tracesUrlFrom}).
 * Call it before the instrumented modules are loaded (`node --import ./dist/instrumentation.js`);
 * a second call returns the running one.
 */
export function startTracing(options: StartTracingOptions): Tracing {
  const holder = globalThis as WithTracing;
  const running = holder[ACTIVE];
  if (running) return running;
  const tracesUrl = tracesUrlFrom(options.env);
  const sampler = samplerFrom(options.env);
  const scheduledDelayMillis = positiveInteger(options.env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, 'milliseconds');
  // Four times the SDK's defaults (2048, 512): one export runs at a time and each waits several
  // turns of the event loop, so under a relay's drain (thousands of producer spans a second, the
  // loop running late) 512 spans an export fell behind and the bench saw spans dropped.
  const maxQueueSize = positiveInteger(options.env, 'OTEL_BSP_MAX_QUEUE_SIZE', 8192, 'spans');
  const maxExportBatchSize = positiveInteger(options.env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 2048, 'spans');
  if (maxExportBatchSize > maxQueueSize) {
    throw new Error(
      `OTEL_BSP_MAX_EXPORT_BATCH_SIZE (${maxExportBatchSize}) is larger than OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize})`,
    );
  }
  // The SDK's own warnings and errors (a failed export, a full queue) go to the logs; without a
  // logger it says nothing at all.
  diag.setLogger(
    createTracingDiagLogger({ service: options.service, level: options.env.LOG_LEVEL?.trim() || undefined }),
    {
      logLevel: DiagLogLevel.WARN,
      suppressOverrideMessage: true,
    },
  );
  const exporter = tracesUrl ? new OTLPTraceExporter({ url: tracesUrl }) : undefined;
  const stats = exporter ? new SpanExportStats() : undefined;
  const processor = exporter
    ? new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis,
        maxQueueSize,
        maxExportBatchSize,
        selfObsMeterProvider: stats,
      })
    : undefined;
  const provider = new TracerProvider({
    // The SDK's own (telemetry.sdk.*), then the service's and the environment's.
    resource: defaultResource().merge(resourceFromAttributes(resourceAttributesFrom(options.env, options.service))),
    sampler,
    spanProcessors: processor ? [processor] : [],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(provider);
  const instrumentations: Instrumentation[] = [
    new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0]) }),
    new ExpressInstrumentation(),
    new UndiciInstrumentation(),
    new AwsInstrumentation({ suppressInternalInstrumentation: true }),
    new PinoInstrumentation({ disableLogSending: true }),
  ];
  if (options.kafkajs ?? true) instrumentations.push(new KafkaJsInstrumentation());
  registerInstrumentations({ tracerProvider: provider, instrumentations });
  const tracing: Tracing = {
    exporting: tracesUrl !== undefined,
    spanExportCounts: () => stats?.counts(),
    shutdown: () => provider.shutdown(),
  };
  holder[ACTIVE] = tracing;
  return tracing;
}

/** What the running tracing (started by {@link startTracing} in this process) did with its spans; undefined when nothing is exported. */
export function spanExportCounts(): SpanExportCounts | undefined {
  return (globalThis as WithTracing)[ACTIVE]?.spanExportCounts();
}

/**
 * Where spans are sent, as the OpenTelemetry variables say: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * as it is (the full URL), else `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended; neither
 * set, nothing is exported. A value that is not a URL throws with the variable's name.
 */
export function tracesUrlFrom(env: Record<string, string | undefined>): string | undefined {
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'] as const) {
    const value = env[name]?.trim();
    if (!value) continue;
    if (!URL.canParse(value)) throw new Error(`${name} is not a URL: ${JSON.stringify(value)}`);
    return name === 'OTEL_EXPORTER_OTLP_ENDPOINT' ? `${value.replace(/\/+$/, '')}/v1/traces` : value;
  }
  return undefined;
}

/** A setting that must be a positive whole number, or its default when unset or empty. */
function positiveInteger(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  unit: string,
): number {
  const text = env[name]?.trim() || String(fallback);
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} is not a positive number of ${unit}: ${JSON.stringify(text)}`);
  }
  return value;
}

/** Flushes and stops the tracing {@link startTracing} started in this process; nothing when none runs. */
export async function shutdownTracing(): Promise<void> {
  const holder = globalThis as WithTracing;
  const running = holder[ACTIVE];
  if (!running) return;
  delete holder[ACTIVE];
  await running.shutdown();
}
