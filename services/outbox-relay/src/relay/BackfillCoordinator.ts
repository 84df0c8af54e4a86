import type { Logger } from '@outbox/shared';
import type { ShardCheckpoint } from '../checkpoint/CheckpointStore';
import type { BackfillSource } from '../backfill/OutboxBackfill';
import type { SourceRecord } from '../source/StreamShard';
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
   * A backfill starts this long before the oldest server-side position among unfinished shards:
   * writers stamp `occurredAt` before they commit (and the table's index keys by it), and stream
   * times are approximate.
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
   * A shard the relay had started vanished from the stream (trimmed away). `all` are the
   * checkpoints of every shard of the stream (the vanished one among them). Returns the newest
   * `occurredAt` published.
   */
  async shardVanished(checkpoint: ShardCheckpoint, all: ShardCheckpoint[]): Promise<string | undefined> {
    this.options.logger.warn(
      { shardId: checkpoint.shardId },
      'a started shard was trimmed from the stream; backfilling from the outbox table',
    );
    return this.run(this.startOf(all), 'shard_trimmed');
  }

  /**
   * Records of a shard the relay has not read are gone from the stream (its checkpoint lies
   * before the trim horizon, or, never read, its start was trimmed). `all` are the checkpoints of
   * every shard of the stream (this one among them). Returns the newest `occurredAt` published.
   */
  async checkpointTrimmed(checkpoint: ShardCheckpoint, all: ShardCheckpoint[]): Promise<string | undefined> {
    this.options.logger.warn(
      { shardId: checkpoint.shardId, sequenceNumber: checkpoint.sequenceNumber },
      'records the relay has not read were trimmed from the stream; backfilling from the outbox table',
    );
    return this.run(this.startOf(all), 'trimmed');
  }

  /**
   * Where a backfill must start, in ms: the oldest position among the shards not yet ended, minus
   * the overlap. A shard's position is the server-side time of the last record it read
   * (`lastServerTimeMs`); one that has read nothing starts where its ended parent stopped, is
   * covered by its parent while that is unfinished, and is unknown otherwise. When every shard
   * ended, the newest position of all. `undefined` (as far back as the table goes) when any
   * position is unknown. Writers' `occurredAt` plays no part, so no writer clock can move it;
   * and since no unfinished shard's unread records are left out, no aggregate is reordered.
   */
  startOf(checkpoints: ShardCheckpoint[]): number | undefined {
    const byId = new Map(checkpoints.map((c) => [c.shardId, c]));
    const open = checkpoints.filter((c) => !c.ended);
    let base: number | undefined;
    if (open.length === 0) {
      const times = checkpoints.flatMap((c) => (c.lastServerTimeMs === undefined ? [] : [c.lastServerTimeMs]));
      base = times.length > 0 ? Math.max(...times) : undefined;
    } else {
      for (const shard of open) {
        let at = shard.lastServerTimeMs;
        if (at === undefined) {
          const parent = shard.parentShardId === undefined ? undefined : byId.get(shard.parentShardId);
          if (parent && !parent.ended) continue; // the parent's own position covers it
          at = parent?.lastServerTimeMs;
          if (at === undefined) return undefined;
        }
        base = base === undefined ? at : Math.min(base, at);
      }
    }
    return base === undefined ? undefined : base - this.options.overlapMs;
  }

  /**
   * Publishes every outbox event since `fromMs` in per-aggregate seq order, a batch at a time as
   * the table is read (memory stays bounded); returns the newest occurredAt.
   */
  private async run(fromMs: number | undefined, reason: BackfillReason): Promise<string | undefined> {
    const { backfill, records: publisher, metrics, logger, batchSize } = this.options;
    let newest: string | undefined;
    let pending: SourceRecord[] = [];
    let total = 0;
    const flush = async () => {
      const batch = publisher.dispose(pending);
      pending = [];
      await publisher.publish('backfill', batch, 'backfill');
      metrics.recordsBackfilled.inc({ reason }, batch.events.length);
      newest = maxOccurredAt(newest, batch.events);
    };
    const since = fromMs === undefined ? 'as far back as the table goes' : new Date(fromMs).toISOString();
    logger.info({ reason, since }, 'backfill started');
    for await (const page of backfill.read(fromMs === undefined ? {} : { fromMs })) {
      for (const record of page) {
        pending.push(record);
        total += 1;
        if (pending.length >= batchSize) await flush();
      }
    }
    if (pending.length > 0) await flush();
    logger.info({ reason, since, records: total }, 'backfill published');
    return newest;
  }
}
