import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';

/** Options for {@link startTracing}. */
export interface StartTracingOptions {
  service: string;
  /** OTLP/HTTP endpoint (e.g. `http://collector:4318`); tracing stays off when unset. */
  otlpEndpoint?: string;
}

/** A running tracer; `shutdown()` flushes spans. */
export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing with an OTLP exporter when an endpoint is configured, and does
 * nothing otherwise, so local runs and tests need no collector.
 */
export function startTracing(options: StartTracingOptions): Tracing {
  if (!options.otlpEndpoint) return { shutdown: async () => undefined };
  const sdk = new NodeSDK({
    serviceName: options.service,
    traceExporter: new OTLPTraceExporter({ url: `${options.otlpEndpoint.replace(/\/$/, '')}/v1/traces` }),
    instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
