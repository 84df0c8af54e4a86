import { Counter, Histogram, type Registry } from 'prom-client';

/** The order-api's Prometheus metrics. */
export interface ApiMetrics {
  httpDuration: Histogram<'route' | 'method' | 'status'>;
  ordersCreated: Counter;
  outboxEventsWritten: Counter<'event_type'>;
}

/** Registers the order-api metrics on `registry`. */
export function createApiMetrics(registry: Registry): ApiMetrics {
  return {
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    ordersCreated: new Counter({
      name: 'orders_created_total',
      help: 'Orders created',
      registers: [registry],
    }),
    outboxEventsWritten: new Counter({
      name: 'outbox_events_written_total',
      help: 'Outbox events written, by event type',
      labelNames: ['event_type'],
      registers: [registry],
    }),
  };
}
