import { Counter, Histogram, type Registry } from 'prom-client';

/** The notifier's Prometheus metrics. */
export interface NotifierMetrics {
  eventsProcessed: Counter<'event_type' | 'outcome'>;
  processingDuration: Histogram;
}

/** Registers the notifier metrics on `registry`. */
export function createNotifierMetrics(registry: Registry): NotifierMetrics {
  return {
    eventsProcessed: new Counter({
      name: 'notifier_events_processed_total',
      help: 'Events handled, by event type and outcome (stored, duplicate, dead_lettered)',
      labelNames: ['event_type', 'outcome'],
      registers: [registry],
    }),
    processingDuration: new Histogram({
      name: 'notifier_processing_duration_seconds',
      help: 'Time to process one event',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [registry],
    }),
  };
}
