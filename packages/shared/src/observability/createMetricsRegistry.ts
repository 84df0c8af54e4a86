import { Registry, collectDefaultMetrics } from 'prom-client';

/** Options for {@link createMetricsRegistry}. */
export interface CreateMetricsRegistryOptions {
  service: string;
  /** Collect Node process metrics (event loop lag, heap, GC); on by default. */
  defaultMetrics?: boolean;
}

/**
 * A Prometheus registry of the service's own (not prom-client's global one), so tests can build
 * several apps in one process without metric name clashes.
 */
export function createMetricsRegistry(options: CreateMetricsRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
