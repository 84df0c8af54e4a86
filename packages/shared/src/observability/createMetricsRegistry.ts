import { Registry, collectDefaultMetrics } from 'prom-client';
import { createTracingMetrics } from './createTracingMetrics';

/** Options for {@link createMetricsRegistry}. */
export interface CreateMetricsRegistryOptions {
  service: string;
  /** Collect Node process metrics (event loop lag, heap, GC) and the span export's; on by default. */
  defaultMetrics?: boolean;
}

/**
 * prom-client's default gauges whose names end in `_total`, which Prometheus reserves for
 * counters (`promtool check metrics` reports them). Each is the sum of a per-type gauge that stays
 * registered (`nodejs_active_handles{type}`, `nodejs_active_requests{type}`,
 * `nodejs_active_resources{type}`), so `sum(nodejs_active_handles)` gives the same number.
 */
const NONCOMPLIANT_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/**
 * A Prometheus registry of the service's own (not prom-client's global one), so tests can build
 * several apps in one process without metric name clashes. Every series passes
 * `promtool check metrics`: the default metrics leave out {@link NONCOMPLIANT_DEFAULT_METRICS}.
 */
export function createMetricsRegistry(options: CreateMetricsRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of NONCOMPLIANT_DEFAULT_METRICS) registry.removeSingleMetric(name);
    createTracingMetrics(registry);
  }
  return registry;
}
