import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createApiMetrics } from '../../services/order-api/src/http/apiMetrics';
import { createRelayMetrics } from '../../services/outbox-relay/src/relay/relayMetrics';
import { createNotifierMetrics } from '../../services/notifier/src/consume/notifierMetrics';
import { createTracingMetrics } from '@outbox/shared';
import { metricNamesIn } from '@outbox/testkit';

interface Panel {
  title: string;
  targets: { expr: string }[];
}

/** Metric names a PromQL expression refers to, with histogram suffixes folded onto the metric's name. */
function metricFamiliesIn(expr: string): string[] {
  return metricNamesIn(expr).map((name) => name.replace(/_(bucket|count|sum)$/, ''));
}

describe('the Grafana dashboard', () => {
  test('When its queries are read, then every metric they use is one the services register', async () => {
    const registry = new Registry();
    createApiMetrics(registry);
    createRelayMetrics(registry);
    createNotifierMetrics(registry);
    createTracingMetrics(registry);
    const registered = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
    const dashboard = JSON.parse(
      readFileSync(join(__dirname, '..', '..', 'ops', 'grafana', 'outbox-dashboard.json'), 'utf8'),
    ) as {
      panels: Panel[];
    };

    const used = dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => metricFamiliesIn(target.expr)));
    expect(used.length).toBeGreaterThan(20);
    expect(used.filter((name) => !registered.has(name))).toEqual([]);
    // And the other way round: no service metric is left off the dashboard.
    expect([...registered].filter((name) => !used.includes(name))).toEqual([]);
  });
});
