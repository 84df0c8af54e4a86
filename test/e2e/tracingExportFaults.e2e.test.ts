import { createServer, type Server, type Socket } from 'node:net';
import {
  createTestTables,
  createTestTopic,
  metricValue,
  parseMetrics,
  pipelineEnv,
  scrapeMetrics,
  type ServiceProcess,
  startServiceProcess,
  waitFor,
  postOrder,
} from '@outbox/testkit';

/** A collector that takes connections and never answers (a hung sidecar). */
async function startSilentCollector(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('span export to a collector that never answers', () => {
  let collector: Awaited<ReturnType<typeof startSilentCollector>>;
  let api: ServiceProcess;

  beforeAll(async () => {
    collector = await startSilentCollector();
    const tables = await createTestTables();
    api = await startServiceProcess('order-api', {
      ...pipelineEnv(tables, await createTestTopic()),
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BSP_MAX_QUEUE_SIZE: '4',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2',
    });
  });

  afterAll(async () => {
    await api?.kill();
    await collector?.stop();
  });

  test('When the export queue fills and exports time out, then orders are still taken, and the metrics and the logs count the spans lost', async () => {
    const seen = await waitFor(
      async () => {
        const placed = await postOrder(api.port);
        expect(placed.status).toBe(201);
        const text = await scrapeMetrics(api);
        const failed = parseMetrics(text).filter(
          (sample) => sample.name === 'tracing_spans_total' && sample.labels.outcome === 'failed',
        );
        const logs = api.output.join('');
        const result = {
          exported: metricValue(text, 'tracing_spans_total', { outcome: 'exported' }),
          dropped: metricValue(text, 'tracing_spans_total', { outcome: 'dropped' }) ?? 0,
          failed: failed.reduce((sum, sample) => sum + sample.value, 0),
          failedTypes: failed.map((sample) => sample.labels.error_type),
          capacity: metricValue(text, 'tracing_span_queue_capacity'),
          warnedDropped: /"level":"warn".*"msg":"OpenTelemetry: Dropped \d+ spans/.test(logs),
          loggedFailure: /"level":"error".*"msg":"OpenTelemetry: /.test(logs),
        };
        return result.dropped > 0 && result.failed > 0 && result.warnedDropped && result.loggedFailure && result;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'spans dropped and failed exports in the metrics and the logs' },
    );
    expect(seen).toMatchObject({ exported: 0, capacity: 4 });
    expect(seen.failedTypes.every((type) => type.length > 0)).toBe(true);
  });
});
