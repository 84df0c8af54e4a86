import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The notifier's Prometheus metrics. */
export interface NotifierMetrics {
  eventsProcessed: Counter<'event_type' | 'outcome'>;
  duplicatesSkipped: Counter<'reason'>;
  gapsHeld: Counter;
  heldEvents: Gauge<'partition'>;
  deadLetters: Counter<'reason'>;
  transientRetries: Counter<'code'>;
  webhookDeliveries: Counter<'outcome'>;
  processingDuration: Histogram;
  endToEndLatency: Histogram;
  consumerLag: Gauge<'topic' | 'partition'>;
}

/** Consumer lag per partition, read when Prometheus scrapes. */
export type ReadConsumerLag = () => Promise<{ topic: string; partition: number; lag: number }[]>;

/** Registers the notifier metrics on `registry`; `readLag` feeds the consumer lag gauge. */
export function createNotifierMetrics(registry: Registry, readLag?: ReadConsumerLag): NotifierMetrics {
  const registers = [registry];
  return {
    eventsProcessed: new Counter({
      name: 'notifier_events_processed_total',
      help: 'Events handled, by event type and outcome (stored, duplicate, stale, held, dead_lettered)',
      labelNames: ['event_type', 'outcome'],
      registers,
    }),
    duplicatesSkipped: new Counter({
      name: 'notifier_duplicates_skipped_total',
      help: 'Events skipped without effect: a redelivered event id, or a seq at or below the aggregate cursor',
      labelNames: ['reason'],
      registers,
    }),
    gapsHeld: new Counter({
      name: 'notifier_gaps_held_total',
      help: 'Times an event was held because an earlier seq of its aggregate was missing',
      registers,
    }),
    heldEvents: new Gauge({
      name: 'notifier_held_events',
      help: 'Events currently held for a gap, per partition',
      labelNames: ['partition'],
      registers,
    }),
    deadLetters: new Counter({
      name: 'notifier_dead_letters_total',
      help: 'Messages sent to the dead-letter topic, by reason',
      labelNames: ['reason'],
      registers,
    }),
    transientRetries: new Counter({
      name: 'notifier_transient_retries_total',
      help: 'Retries of an event after a transient error, by error code',
      labelNames: ['code'],
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'notifier_webhook_deliveries_total',
      help: 'Webhook requests, by outcome (delivered, retriable, rejected)',
      labelNames: ['outcome'],
      registers,
    }),
    processingDuration: new Histogram({
      name: 'notifier_processing_duration_seconds',
      help: 'Time to process one event',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }),
    endToEndLatency: new Histogram({
      name: 'notifier_end_to_end_latency_seconds',
      help: 'From the event occurredAt (committed by the API) to its notification stored',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    consumerLag: new Gauge({
      name: 'notifier_consumer_lag',
      help: "Messages behind per partition: the partition's latest offset minus the group's committed offset",
      labelNames: ['topic', 'partition'],
      registers,
      async collect() {
        if (!readLag) return;
        // A scrape must not fail because Kafka is slow: the gauge keeps its last values then.
        const lags = await readLag().catch(() => undefined);
        if (!lags) return;
        this.reset();
        for (const { topic, partition, lag } of lags) this.set({ topic, partition: String(partition) }, lag);
      },
    }),
  };
}
