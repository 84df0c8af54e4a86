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
  lastProgressTimestamp: Gauge;
  leader: Gauge;
  leaseAcquisitions: Counter;
  leaseLosses: Counter<'reason'>;
  shardsOwned: Gauge;
  shardLeaseAcquisitions: Counter<'how'>;
  shardLeaseLosses: Counter<'reason'>;
  /**
   * Names what the scrape-time gauges (`relay_shard_lag_seconds`, `relay_shard_behind_seconds`,
   * `relay_last_progress_timestamp_seconds`) read; until then they report nothing (or 0).
   */
  reportProgressOf(progress: RelayProgress): void;
}

/** Where one shard stands, computed when asked (at scrape time). */
export interface ShardLag {
  shardId: string;
  /** Now minus the creation time of the oldest record read but not yet acknowledged by Kafka. */
  lagSeconds: number;
  /** Kinesis only: how far the last read was behind the shard's tip. */
  behindSeconds?: number;
}

/** What the relay tells the scrape-time gauges. */
export interface RelayProgress {
  /** One entry per shard this leader reads; none while standing by. */
  shardLags(): ShardLag[];
  /** When Kafka last acknowledged a batch or a read found every shard caught up (ms since epoch; 0 = never). */
  lastProgressAt(): number;
}

/** Registers the relay metrics on `registry`. */
export function createRelayMetrics(registry: Registry): RelayMetrics {
  const registers = [registry];
  let progress: RelayProgress | undefined;
  return {
    reportProgressOf(source) {
      progress = source;
    },
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
      help: 'Per shard, now minus the creation time (stream server time or occurredAt, the older) of the oldest record read but not yet acknowledged by Kafka; 0 only after a read at the tip found nothing new',
      labelNames: ['shard_id'],
      registers,
      // Computed at scrape time, so it keeps growing while the relay is stuck.
      collect() {
        this.reset();
        for (const lag of progress?.shardLags() ?? []) this.set({ shard_id: lag.shardId }, lag.lagSeconds);
      },
    }),
    shardBehindSeconds: new Gauge({
      name: 'relay_shard_behind_seconds',
      help: "How far the last read was behind the shard's tip (Kinesis MillisBehindLatest), per shard",
      labelNames: ['shard_id'],
      registers,
      collect() {
        this.reset();
        for (const lag of progress?.shardLags() ?? []) {
          if (lag.behindSeconds !== undefined) this.set({ shard_id: lag.shardId }, lag.behindSeconds);
        }
      },
    }),
    lastProgressTimestamp: new Gauge({
      name: 'relay_last_progress_timestamp_seconds',
      help: 'When Kafka last acknowledged a batch or a read found every shard caught up (seconds since epoch; 0 = never)',
      registers,
      collect() {
        this.set((progress?.lastProgressAt() ?? 0) / 1000);
      },
    }),
    leader: new Gauge({
      name: 'relay_leader',
      help: "1 while this instance holds the coordinator lease (it follows the table's stream), else 0",
      registers,
    }),
    leaseAcquisitions: new Counter({
      name: 'relay_lease_acquisitions_total',
      help: 'Times this instance acquired the coordinator lease',
      registers,
    }),
    leaseLosses: new Counter({
      name: 'relay_lease_losses_total',
      help: 'Times this instance lost the coordinator lease, by reason (taken, fenced, expired)',
      labelNames: ['reason'],
      registers,
    }),
    shardsOwned: new Gauge({
      name: 'relay_shards_owned',
      help: 'Shard leases this instance holds now (the shards it reads)',
      registers,
    }),
    shardLeaseAcquisitions: new Counter({
      name: 'relay_shard_lease_acquisitions_total',
      help: 'Shard leases this instance took, by how (free, expired, stolen)',
      labelNames: ['how'],
      registers,
    }),
    shardLeaseLosses: new Counter({
      name: 'relay_shard_lease_losses_total',
      help: 'Shard leases this instance lost without handing them back, by reason (taken: a lease write found another instance holding it)',
      labelNames: ['reason'],
      registers,
    }),
  };
}
