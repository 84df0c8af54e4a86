import { Counter, Gauge, type Registry } from 'prom-client';
import type { SpanExportCounts } from './SpanExportStats';
import { spanExportCounts } from './startTracing';

/**
 * Metrics of the process's span export, read at scrape time from the running tracing
 * ({@link spanExportCounts}): spans exported, dropped from a full queue, and lost in failed
 * exports, and the queue's fill. All stay at zero while nothing is exported (no
 * `OTEL_EXPORTER_OTLP_ENDPOINT`). `counts` is injected by tests.
 */
export function createTracingMetrics(
  registry: Registry,
  counts: () => SpanExportCounts | undefined = spanExportCounts,
): void {
  const registers = [registry];
  new Counter({
    name: 'tracing_spans_total',
    help: 'Spans handed to the OTLP exporter, by outcome: exported, dropped (the export queue was full) or failed (the export was refused or timed out), with the error type',
    labelNames: ['outcome', 'error_type'],
    registers,
    collect() {
      const now = counts();
      this.reset();
      this.inc({ outcome: 'exported', error_type: '' }, now?.exported ?? 0);
      this.inc({ outcome: 'dropped', error_type: 'queue_full' }, now?.dropped ?? 0);
      for (const [errorType, spans] of Object.entries(now?.failed ?? {})) {
        this.inc({ outcome: 'failed', error_type: errorType }, spans);
      }
    },
  });
  new Gauge({
    name: 'tracing_span_queue_size',
    help: 'Spans waiting in the export queue',
    registers,
    collect() {
      this.set(counts()?.queued ?? 0);
    },
  });
  new Gauge({
    name: 'tracing_span_queue_capacity',
    help: 'Spans the export queue holds before it drops new ones (OTEL_BSP_MAX_QUEUE_SIZE; 0 while nothing is exported)',
    registers,
    collect() {
      this.set(counts()?.capacity ?? 0);
    },
  });
}
