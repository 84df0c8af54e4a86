import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { TracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { Registry } from 'prom-client';
import { createTracingDiagLogger, createTracingMetrics, SpanExportStats } from '@outbox/shared';
import { metricValue } from '../../testkit/src/metrics';

/** An exporter a test answers by hand: each export waits in `pending` until resolved. */
class HandAnsweredExporter implements SpanExporter {
  readonly pending: { spans: ReadableSpan[]; answer(result: ExportResult): void }[] = [];
  /** Once set, exports from then on are answered with this at once. */
  answerAllWith?: ExportResult;
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.answerAllWith) resultCallback(this.answerAllWith);
    else this.pending.push({ spans, answer: resultCallback });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function tracerWith(exporter: SpanExporter, stats: SpanExportStats) {
  const processor = new BatchSpanProcessor({
    exporter,
    maxQueueSize: 4,
    maxExportBatchSize: 2,
    scheduledDelayMillis: 60_000,
    selfObsMeterProvider: stats,
  });
  const provider = new TracerProvider({ spanProcessors: [processor] });
  return { tracer: provider.getTracer('test'), provider };
}

describe('SpanExportStats (a real BatchSpanProcessor, an exporter answered by hand)', () => {
  test('When exports succeed, fail and hang while spans keep ending, then exported, failed, dropped and queued are counted apart', async () => {
    const exporter = new HandAnsweredExporter();
    const stats = new SpanExportStats();
    const { tracer, provider } = tracerWith(exporter, stats);
    const end = (n: number) => {
      for (let i = 0; i < n; i += 1) tracer.startSpan(`span-${i}`).end();
    };

    end(2); // a full batch: exported at once
    expect(exporter.pending).toHaveLength(1);
    exporter.pending[0].answer({ code: ExportResultCode.SUCCESS });
    await new Promise((resolve) => setImmediate(resolve));

    end(2); // the next batch fails
    exporter.pending[1].answer({ code: ExportResultCode.FAILED, error: new TypeError('collector refused') });
    await new Promise((resolve) => setImmediate(resolve));

    end(2); // this export hangs: 4 more fill the queue, 3 beyond it are dropped
    end(7);
    expect(stats.counts()).toEqual({
      exported: 2,
      failed: { TypeError: 2 },
      dropped: 3,
      queued: 4,
      capacity: 4,
    });
    exporter.answerAllWith = { code: ExportResultCode.SUCCESS };
    exporter.pending[2].answer({ code: ExportResultCode.SUCCESS });
    await provider.shutdown();
    expect(stats.counts()).toMatchObject({ exported: 8, dropped: 3, queued: 0 });
  });

  test('When the registry is scraped, then the counts are the tracing metrics, and all zero while nothing is exported', async () => {
    const registry = new Registry();
    const now: { counts?: ReturnType<SpanExportStats['counts']> } = {};
    createTracingMetrics(registry, () => now.counts);
    const idle = await registry.metrics();
    expect(metricValue(idle, 'tracing_spans_total')).toBe(0);
    expect(metricValue(idle, 'tracing_span_queue_capacity')).toBe(0);

    now.counts = { exported: 5, dropped: 3, failed: { TypeError: 2 }, queued: 1, capacity: 4 };
    const text = await registry.metrics();
    expect(metricValue(text, 'tracing_spans_total', { outcome: 'exported' })).toBe(5);
    expect(metricValue(text, 'tracing_spans_total', { outcome: 'dropped', error_type: 'queue_full' })).toBe(3);
    expect(metricValue(text, 'tracing_spans_total', { outcome: 'failed', error_type: 'TypeError' })).toBe(2);
    expect(metricValue(text, 'tracing_span_queue_size')).toBe(1);
    expect(metricValue(text, 'tracing_span_queue_capacity')).toBe(4);
  });
});

describe('createTracingDiagLogger', () => {
  function logger(level = 'info') {
    const lines: Record<string, unknown>[] = [];
    let now = 1_000_000;
    const diag = createTracingDiagLogger({
      service: 'svc',
      level,
      write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
      now: () => now,
      repeatIntervalMs: 60_000,
    });
    return { diag, lines, advance: (ms: number) => (now += ms) };
  }

  test('When the SDK reports an exception as JSON, then the line has its name and message, not its stack', () => {
    const { diag, lines } = logger();
    diag.error(
      JSON.stringify({
        stack: 'Error: Request timed out\n    at x (y.js:1:2)',
        message: 'Request timed out',
        name: 'Error',
      }),
    );
    expect(lines).toEqual([
      {
        level: 'error',
        time: new Date(1_000_000).toISOString(),
        service: 'svc',
        msg: 'OpenTelemetry: Error: Request timed out',
      },
    ]);
  });

  test('When the same message repeats within the interval, then it is written once, and the next line says how many were held back', () => {
    const { diag, lines, advance } = logger();
    diag.warn('Dropped 11 spans because maxQueueSize reached');
    advance(1_000);
    diag.warn('Dropped 7 spans because maxQueueSize reached');
    diag.warn('Dropped 3 spans because maxQueueSize reached');
    diag.error('another message');
    advance(60_000);
    diag.warn('Dropped 2 spans because maxQueueSize reached');
    expect(lines.map((line) => [line.msg, line.repeatedSinceLast])).toEqual([
      ['OpenTelemetry: Dropped 11 spans because maxQueueSize reached', undefined],
      ['OpenTelemetry: another message', undefined],
      ['OpenTelemetry: Dropped 2 spans because maxQueueSize reached', 2],
    ]);
  });

  test('When more than 100 different messages come, then the oldest is forgotten, so memory stays bounded and it is written again', () => {
    const { diag, lines } = logger();
    diag.warn('first');
    for (let i = 0; i < 100; i += 1) diag.warn(`other ${String.fromCharCode(65 + (i % 26))}${'x'.repeat(i)}`);
    diag.warn('first');
    expect(lines.filter((line) => line.msg === 'OpenTelemetry: first')).toHaveLength(2);
  });

  test('When LOG_LEVEL is error, then warnings are not written but errors are', () => {
    const { diag, lines } = logger('error');
    diag.warn('a warning');
    diag.error('an error');
    diag.info('info is never written');
    expect(lines.map((line) => line.msg)).toEqual(['OpenTelemetry: an error']);
  });
});
