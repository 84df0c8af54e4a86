import type { Logger } from '@outbox/shared';
import type { ShardCheckpoint } from '../checkpoint/CheckpointStore';
import type { BackfillSource } from '../backfill/OutboxBackfill';
import type { RelayMetrics } from './relayMetrics';
import { maxOccurredAt, type RecordPublisher } from './RecordPublisher';

/** Why a backfill runs (the `reason` label of `relay_records_backfilled_total`). */
export type BackfillReason = 'trimmed' | 'shard_trimmed' | 'stream_replaced';

/** Options for {@link BackfillCoordinator}. */
export interface BackfillCoordinatorOptions {
  /** Where events the stream lost are re-read from (the outbox table). */
  backfill: BackfillSource;
  /** Publishes and counts what the backfill read. */
  records: RecordPublisher;
  metrics: RelayMetrics;
  logger: Logger;
  /** Records per published batch. */
  batchSize: number;
  /**
   * A backfill starts this long before the newest event known to be published, because
   * `occurredAt` is stamped before commit and writers' clocks differ.
   */
  overlapMs: number;
}

/**
 * Decides when and from where the outbox table is re-read because the stream lost records (a
 * checkpoint behind the trim horizon, a started shard trimmed away, a replaced stream), and
 * publishes what it reads in (aggregateId, seq) order before the stream is read on. It never
 * writes checkpoints: the caller does, once a backfill returned.
 */
export class BackfillCoordinator {
  private readonly options: BackfillCoordinatorOptions;

  constructor(options: BackfillCoordinatorOptions) {
    this.options = options;
  }

  /** The table's stream was replaced: publishes what the previous stream's shards may have missed. */
  async streamReplaced(previous: ShardCheckpoint[]): Promise<void> {
    await this.run(this.startOf(previous), 'stream_replaced');
  }

  /**
   * A shard the relay had started vanished from the stream (trimmed away). Returns the newest
   * `occurredAt` published, for the shard's final checkpoint.
   */
  async shardVanished(checkpoint: ShardCheckpoint): Promise<string | undefined> {
    this.options.logger.warn(
      { shardId: checkpoint.shardId },
      'a started shard was trimmed from the stream; backfilling from the outbox table',
    );
    return this.run(this.startOf([checkpoint]), 'shard_trimmed');
  }

  /**
   * A shard's checkpoint lies before the trim horizon. `all` are the checkpoints of every shard
   * of the stream, used when the shard itself never published an event. Returns the newest
   * `occurredAt` published.
   */
  async checkpointTrimmed(checkpoint: ShardCheckpoint, all: ShardCheckpoint[]): Promise<string | undefined> {
    this.options.logger.warn(
      { shardId: checkpoint.shardId, sequenceNumber: checkpoint.sequenceNumber },
      'checkpoint is behind the trim horizon; backfilling from the outbox table',
    );
    return this.run(this.startOf(checkpoint.lastOccurredAt ? [checkpoint] : all), 'trimmed');
  }

  /**
   * Where a backfill must start: the oldest "newest published event" among shards still open
   * (else the newest of all), minus the overlap. `undefined` (the whole table) when unknown.
   */
  startOf(checkpoints: ShardCheckpoint[]): string | undefined {
    const times = (list: ShardCheckpoint[]) =>
      list.map((c) => (c.lastOccurredAt ? Date.parse(c.lastOccurredAt) : NaN)).filter((t) => !Number.isNaN(t));
    const open = times(checkpoints.filter((c) => !c.ended));
    const base =
      open.length > 0 ? Math.min(...open) : times(checkpoints).length > 0 ? Math.max(...times(checkpoints)) : undefined;
    if (base === undefined) return undefined;
    return new Date(base - this.options.overlapMs).toISOString();
  }

  /** Publishes every outbox event since `since` in (aggregateId, seq) order; returns the newest occurredAt. */
  private async run(since: string | undefined, reason: BackfillReason): Promise<string | undefined> {
    const { backfill, records: publisher, metrics, logger, batchSize } = this.options;
    const records = await backfill.readSince(since);
    let newest: string | undefined;
    for (let i = 0; i < records.length; i += batchSize) {
      const batch = publisher.dispose(records.slice(i, i + batchSize));
      await publisher.publish('backfill', batch, 'backfill');
      metrics.recordsBackfilled.inc({ reason }, batch.events.length);
      newest = maxOccurredAt(newest, batch.events);
    }
    logger.info({ reason, since: since ?? 'the beginning', records: records.length }, 'backfill published');
    return newest;
  }
}
