import { Counter, Histogram, type Registry } from 'prom-client';

/** The order-api's Prometheus metrics. */
export interface ApiMetrics {
  httpDuration: Histogram<'route' | 'method' | 'status'>;
  ordersCreated: Counter;
  ordersCancelled: Counter;
  /** Transactions cancelled by a concurrent writer, by operation and reason. */
  transactionConflicts: Counter<'operation' | 'reason'>;
  outboxEventsWritten: Counter<'event_type'>;
  idempotentReplays: Counter;
}

/** Registers the order-api metrics on `registry`. */
export function createApiMetrics(registry: Registry): ApiMetrics {
  return {
    httpDuration: new Histogram({
      name: 'order_api_http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    ordersCreated: new Counter({
      name: 'order_api_orders_created_total',
      help: 'Orders created',
      registers: [registry],
    }),
    ordersCancelled: new Counter({
      name: 'order_api_orders_cancelled_total',
      help: 'Orders cancelled',
      registers: [registry],
    }),
    transactionConflicts: new Counter({
      name: 'order_api_transaction_conflicts_total',
      help: 'DynamoDB transactions lost to a concurrent writer, by operation (create, cancel) and reason',
      labelNames: ['operation', 'reason'],
      registers: [registry],
    }),
    outboxEventsWritten: new Counter({
      name: 'order_api_outbox_events_written_total',
      help: 'Outbox events written, by event type',
      labelNames: ['event_type'],
      registers: [registry],
    }),
    idempotentReplays: new Counter({
      name: 'order_api_idempotent_replays_total',
      help: 'Requests answered from a stored Idempotency-Key response',
      registers: [registry],
    }),
  };
}
