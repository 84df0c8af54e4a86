import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createKafka, createLogger } from '@outbox/shared';
import {
  freePort,
  metricNamesIn,
  type PrometheusServer,
  type RunningPipeline,
  runPromtool,
  scrapeMetrics,
  startPrometheus,
  startRunningPipeline,
  testEndpoints,
  waitFor,
  postOrder,
} from '@outbox/testkit';

const repoRoot = join(__dirname, '..', '..');

/**
 * Metrics whose series appear only after a fault this test does not cause (a write conflict, a
 * lease loss, a trimmed stream, a record the relay cannot publish, a duplicate delivery, a
 * DynamoDB error, a Kinesis source). Queries on them must parse, and Prometheus must know the
 * metric from the targets' metadata; they need not return series.
 */
const ONLY_AFTER_A_FAULT = new Set([
  'order_api_transaction_conflicts_total',
  'relay_records_ignored_total',
  'relay_shard_behind_seconds',
  'relay_lease_losses_total',
  'relay_shard_lease_losses_total',
  'relay_records_dead_lettered_total',
  'relay_records_backfilled_total',
  'notifier_duplicates_skipped_total',
  'notifier_transient_retries_total',
]);

interface QueryResult {
  resultType: string;
  result: unknown[];
}

function dashboardQueries(): string[] {
  const dashboard = JSON.parse(readFileSync(join(repoRoot, 'ops', 'grafana', 'outbox-dashboard.json'), 'utf8')) as {
    panels: { targets: { expr: string }[] }[];
  };
  return dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
}

function alertRules(): { alert: string; expr: string }[] {
  const rules = parse(readFileSync(join(repoRoot, 'ops', 'prometheus', 'alerts.yml'), 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return rules.groups.flatMap((group) => group.rules);
}

/** Names of the metric families a Prometheus text exposition declares (`# TYPE <name> <type>`). */
function familiesIn(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((match) => match[1]);
}

/**
 * What every service has besides its own: prom-client's process and Node runtime metrics (named by
 * Prometheus's client conventions) and the span export's (`tracing_*`, from `createMetricsRegistry`).
 */
const RUNTIME_DEFAULTS = /^(process_|nodejs_|tracing_)/;

/** The family a sample name belongs to, as Prometheus's metadata names it. */
function family(name: string): string {
  return name.replace(/_(bucket|count|sum)$/, '');
}

// One set of service processes for both parts: starting them is the slow step.
describe('the three services as processes, scraped by promtool and by a real Prometheus server', () => {
  let pipeline: RunningPipeline | undefined;
  let prometheus: PrometheusServer | undefined;
  let webhook: Server | undefined;

  beforeAll(async () => {
    // A webhook receiver, so the notifier's delivery metrics have series.
    webhook = createServer((_req, res) => res.writeHead(200).end());
    const webhookPort = await freePort();
    await new Promise<void>((resolve) => webhook?.listen(webhookPort, '127.0.0.1', resolve));
    pipeline = await startRunningPipeline({
      WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/hook`,
      WEBHOOK_SECRET: 'a-test-secret-of-enough-length',
    });
    const { api, relay, notifier, topic } = pipeline;

    // A cancelled order and a message the notifier must dead-letter, for those panels' series.
    const placed = await postOrder(api.port, { items: [{ productId: 'sku-2', quantity: 1, price: 4 }] });
    const { orderId } = (await placed.json()) as { orderId: string };
    const cancelled = await fetch(`http://127.0.0.1:${api.port}/orders/${orderId}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'changed my mind' }),
    });
    expect(cancelled.status).toBe(200);
    const kafka = createKafka({
      clientId: 'prometheus-test',
      brokers: testEndpoints().kafkaBrokers,
      logger: createLogger({ service: 'test', level: 'silent' }),
    });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ key: 'not-an-order', value: 'not json' }] });
    } finally {
      await producer.disconnect();
    }

    prometheus = await startPrometheus({
      intervalSeconds: 1,
      targets: {
        'order-api': `127.0.0.1:${api.opsPort}`,
        'outbox-relay': `127.0.0.1:${relay.port}`,
        notifier: `127.0.0.1:${notifier.port}`,
      },
    });
  }, 120000);

  afterAll(async () => {
    await prometheus?.stop();
    await pipeline?.stop();
    await new Promise((resolve) => (webhook ? webhook.close(resolve) : resolve(undefined)));
  });

  test("When each service's /metrics is piped to promtool check metrics, then it reports no finding", async () => {
    for (const { name, service } of (pipeline as RunningPipeline).byPrefix) {
      const text = await scrapeMetrics(service);
      const result = await runPromtool(['check', 'metrics'], text);
      expect({ name, code: result.code, findings: `${result.stdout}${result.stderr}`.trim() }).toEqual({
        name,
        code: 0,
        findings: '',
      });
    }
  });

  test("When each /metrics is read, then every metric of the service's own carries its one prefix (order_api_, relay_, notifier_)", async () => {
    for (const { name, prefix, service } of (pipeline as RunningPipeline).byPrefix) {
      const own = familiesIn(await scrapeMetrics(service)).filter((family) => !RUNTIME_DEFAULTS.test(family));
      expect(own.length).toBeGreaterThan(5);
      expect({ name, unprefixed: own.filter((family) => !family.startsWith(prefix)) }).toEqual({
        name,
        unprefixed: [],
      });
    }
  });

  test('When Prometheus scrapes the targets of ops/prometheus.yml, then all three are up', async () => {
    const server = prometheus as PrometheusServer;
    const up = await waitFor(
      async () => {
        const { activeTargets } = await server.api<{
          activeTargets: { labels: { job: string }; health: string; lastError: string }[];
        }>('targets');
        const health = activeTargets.map((target) =>
          `${target.labels.job}: ${target.health} ${target.lastError}`.trim(),
        );
        if (activeTargets.length === 3 && activeTargets.every((target) => target.health === 'up')) return health;
        throw new Error(health.join('; '));
      },
      { timeoutMs: 30000, what: 'the three targets to be up' },
    );
    expect(up.sort()).toEqual(['notifier: up', 'order-api: up', 'outbox-relay: up']);
  });

  test('When every Grafana panel query runs, then each returns series (or, on a metric only a fault creates, parses and its metric is known)', async () => {
    const server = prometheus as PrometheusServer;
    const queries = dashboardQueries();
    const needSeries = queries.filter(
      (expr) => !metricNamesIn(expr).some((name) => ONLY_AFTER_A_FAULT.has(family(name))),
    );
    const faultOnly = queries.filter((expr) => !needSeries.includes(expr));
    expect(needSeries.length).toBeGreaterThan(20);

    await waitFor(
      async () => {
        const empty: string[] = [];
        for (const expr of needSeries) {
          const { result } = await server.api<QueryResult>('query', { query: expr });
          if (result.length === 0) empty.push(expr);
        }
        if (empty.length > 0) throw new Error(`no series yet for: ${empty.join(' | ')}`);
        return true;
      },
      { timeoutMs: 45000, intervalMs: 1000, what: 'every panel query to return series' },
    );

    for (const expr of faultOnly) {
      await expect(server.api<QueryResult>('query', { query: expr })).resolves.toHaveProperty('result');
    }
    const known = await server.api<{ metric: string }[]>('targets/metadata');
    const knownFamilies = new Set(known.map((entry) => entry.metric));
    const faultMetrics = faultOnly.flatMap((expr) => metricNamesIn(expr).map(family));
    expect(faultMetrics.filter((name) => !knownFamilies.has(name))).toEqual([]);
    expect(new Set(faultMetrics)).toEqual(ONLY_AFTER_A_FAULT);
  });

  test('When Prometheus loads ops/prometheus/alerts.yml, then every rule evaluates without error, every expression parses, and every metric it reads has series', async () => {
    const server = prometheus as PrometheusServer;
    const rules = alertRules();
    await waitFor(
      async () => {
        const { groups } = await server.api<{
          groups: { rules: { name: string; health: string; lastError?: string }[] }[];
        }>('rules');
        const loaded = groups.flatMap((group) => group.rules);
        const notOk = loaded.filter((rule) => rule.health !== 'ok');
        if (loaded.length !== rules.length || notOk.length > 0)
          throw new Error(`${loaded.length} rules loaded; not ok: ${JSON.stringify(notOk)}`);
        return true;
      },
      { timeoutMs: 30000, intervalMs: 500, what: 'every alert rule to be evaluated healthy' },
    );

    for (const { alert, expr } of rules) {
      await expect(server.api<QueryResult>('query', { query: expr })).resolves.toHaveProperty('resultType', 'vector');
      const names = metricNamesIn(expr);
      expect({ alert, names: names.length > 0 }).toEqual({ alert, names: true });
      for (const name of names) {
        if (ONLY_AFTER_A_FAULT.has(family(name))) continue;
        const series = await server.api<unknown[]>('series', { 'match[]': name });
        expect({ alert, name, series: series.length > 0 }).toEqual({ alert, name, series: true });
      }
    }
  });
});
