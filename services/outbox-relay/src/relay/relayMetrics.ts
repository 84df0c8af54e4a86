import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The relay's Prometheus metrics. */
export interface RelayMetrics {
  recordsRead: Counter<'event_name'>;
  recordsPublished: Counter<'event_type'>;
  recordsIgnored: Counter<'event_name'>;
  recordsDeadLettered: Counter<'reason'>;
  recordsBackfilled: Counter<'reason'>;
  publishDuration: Histogram;
  publishFailures: Counter;
  batchSize: Histogram;
  checkpointWrites: Counter<'outcome'>;
  shardLagSeconds: Gauge<'shard_id'>;
  shardBehindSeconds: Gauge<'shard_id'>;
  leader: Gauge;
  leaseAcquisitions: Counter;
  leaseLosses: Counter<'reason'>;
}

/** Registers the relay metrics on `registry`. */
export function createRelayMetrics(registry: Registry): RelayMetrics {
  const registers = [registry];
  return {
    recordsRead: new Counter({
      name: 'relay_records_read_total',
      help: 'Stream records read, by stream event name',
      labelNames: ['event_name'],
      registers,
    }),
    recordsPublished: new Counter({
      name: 'relay_records_published_total',
      help: 'Events acknowledged by Kafka, by event type',
      labelNames: ['event_type'],
      registers,
    }),
    recordsIgnored: new Counter({
      name: 'relay_records_ignored_total',
      help: 'Stream records not published (MODIFY, REMOVE), by event name',
      labelNames: ['event_name'],
      registers,
    }),
    recordsDeadLettered: new Counter({
      name: 'relay_records_dead_lettered_total',
      help: 'Stream records sent to the dead-letter topic, by error code',
      labelNames: ['reason'],
      registers,
    }),
    recordsBackfilled: new Counter({
      name: 'relay_records_backfilled_total',
      help: 'Events re-read from the outbox table and published because the stream no longer held them, by reason',
      labelNames: ['reason'],
      registers,
    }),
    publishDuration: new Histogram({
      name: 'relay_publish_duration_seconds',
      help: 'Time for Kafka to acknowledge one batch',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }),
    publishFailures: new Counter({
      name: 'relay_publish_failures_total',
      help: 'Batches Kafka did not acknowledge (retried with capped backoff; checkpoints stay)',
      registers,
    }),
    batchSize: new Histogram({
      name: 'relay_batch_size_records',
      help: 'Records per non-empty batch read from a shard',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
    }),
    checkpointWrites: new Counter({
      name: 'relay_checkpoint_writes_total',
      help: 'Checkpoint writes by outcome (ok, failed, fenced)',
      labelNames: ['outcome'],
      registers,
    }),
    shardLagSeconds: new Gauge({
      name: 'relay_shard_lag_seconds',
      help: "Age of the newest event processed per shard, from the event's own occurredAt",
      labelNames: ['shard_id'],
      registers,
    }),
    shardBehindSeconds: new Gauge({
      name: 'relay_shard_behind_seconds',
      help: "How far the last read was behind the shard's tip (Kinesis MillisBehindLatest), per shard",
      labelNames: ['shard_id'],
      registers,
    }),
    leader: new Gauge({
      name: 'relay_leader',
      help: '1 while this instance holds the leader lease, else 0',
      registers,
    }),
    leaseAcquisitions: new Counter({
      name: 'relay_lease_acquisitions_total',
      help: 'Times this instance acquired the leader lease',
      registers,
    }),
    leaseLosses: new Counter({
      name: 'relay_lease_losses_total',
      help: 'Times this instance lost the leader lease, by reason (taken, fenced, expired)',
      labelNames: ['reason'],
      registers,
    }),
  };
}
