import { AppError, type Logger } from '@outbox/shared';
import { LeaseLostError, type LeaderLease } from '../lease/LeaderLease';
import type { Checkpoints, ShardCheckpoint } from '../checkpoint/CheckpointStore';
import type { ChangeSource, StreamShard } from '../source/StreamShard';
import { planShards } from '../source/ShardLineage';
import type { RelayMetrics } from './relayMetrics';

/** Where the relay stands in one shard of the stream it reads. */
export interface ShardState {
  shard: StreamShard;
  checkpoint: ShardCheckpoint;
  iterator?: string;
  /** Consecutive failed polls of this shard. */
  failures?: number;
  /** No poll before this time (ms since epoch): the shard's own backoff after a failure. */
  retryAt?: number;
  /** Since when (ms since epoch) every poll of this shard failed; unset while it works. */
  failingSince?: number;
  /** The last failure, for the stall report. */
  lastError?: unknown;
}

/** Options for {@link ShardTracker}. */
export interface ShardTrackerOptions {
  /**
   * The ARN of the stream to read now (the table's latest stream), or `undefined` while the
   * table has none (the relay keeps reading the one it has).
   */
  resolveStreamArn: () => Promise<string | undefined>;
  /** A reader for a stream ARN. */
  sourceFor: (streamArn: string) => ChangeSource;
  checkpoints: Checkpoints;
  lease: Pick<LeaderLease, 'fenced'>;
  metrics: RelayMetrics;
  logger: Logger;
}

/** What a stream change means for the records in between. */
export interface StreamChange {
  /** The stream to read from now on. */
  streamArn: string;
  /**
   * Checkpoints of the stream read before, when the table's stream was replaced (disabled and
   * enabled again): records written in between are in neither stream. `undefined` otherwise.
   */
  replaced?: ShardCheckpoint[];
}

/**
 * Tracks the stream being read, its shards and where the relay stands in each (the checkpoints),
 * and which shards may be read now by lineage (a child only after its parents ended). Every
 * checkpoint write is fenced by the lease.
 */
export class ShardTracker {
  private readonly options: ShardTrackerOptions;
  private readonly shards = new Map<string, ShardState>();
  private stream?: { arn: string; source: ChangeSource };

  constructor(options: ShardTrackerOptions) {
    this.options = options;
  }

  /** True once a stream was entered. */
  get hasStream(): boolean {
    return this.stream !== undefined;
  }

  /** The reader of the current stream. */
  get source(): ChangeSource {
    if (!this.stream) throw new AppError('relay.no_stream_entered', 'No stream entered yet', { retriable: true });
    return this.stream.source;
  }

  /** Every shard state of the current stream. */
  states(): ShardState[] {
    return [...this.shards.values()];
  }

  /**
   * The checkpoint of every shard of the current stream the relay knows: the shards listed now,
   * and those stored but no longer listed (a parent already trimmed away, say).
   */
  async knownCheckpoints(): Promise<ShardCheckpoint[]> {
    const listed = new Map(this.states().map((state) => [state.shard.shardId, state.checkpoint]));
    const stored = await this.options.checkpoints.list(this.currentArn());
    return [...listed.values(), ...stored.filter((c) => !listed.has(c.shardId))];
  }

  /** Drops everything (a new term: another leader may have moved the checkpoints). */
  forget(): void {
    this.shards.clear();
    this.stream = undefined;
  }

  /** Drops every iterator so each shard is re-read from its checkpoint. */
  dropIterators(): void {
    for (const state of this.shards.values()) state.iterator = undefined;
  }

  /**
   * The stream to read next when it differs from the current one, with the previous stream's
   * checkpoints when the table's stream was replaced; `undefined` when nothing changed.
   */
  async streamChange(): Promise<StreamChange | undefined> {
    const latest = (await this.options.resolveStreamArn()) ?? this.stream?.arn ?? (await this.pointedStream());
    if (this.stream?.arn === latest) return undefined;
    const pointer = await this.options.checkpoints.readStreamPointer();
    if (pointer && pointer.streamArn !== latest) {
      return { streamArn: latest, replaced: await this.options.checkpoints.list(pointer.streamArn) };
    }
    return { streamArn: latest };
  }

  /** Starts reading `streamArn` (after the caller backfilled what a replacement lost). */
  async enterStream(streamArn: string): Promise<void> {
    const { checkpoints, lease } = this.options;
    const pointer = await checkpoints.readStreamPointer();
    if (pointer?.streamArn !== streamArn) {
      await lease.fenced((fence) => checkpoints.writeStreamPointer({ streamArn }, fence));
    }
    this.shards.clear();
    this.stream = { arn: streamArn, source: this.options.sourceFor(streamArn) };
  }

  /**
   * Re-reads the shard list and the stored checkpoints of the current stream. Returns the
   * checkpoints of shards the relay had started but the stream trimmed away: their rest is in
   * the table only.
   */
  async refreshShards(): Promise<ShardCheckpoint[]> {
    const arn = this.currentArn();
    const described = await this.source.listShards();
    const stored = new Map((await this.options.checkpoints.list(arn)).map((c) => [c.shardId, c]));
    for (const shard of described) {
      const known = this.shards.get(shard.shardId);
      if (known) {
        known.shard = shard;
        continue;
      }
      const checkpoint = stored.get(shard.shardId) ?? {
        shardId: shard.shardId,
        ended: false,
        parentShardId: shard.parentShardId,
      };
      this.shards.set(shard.shardId, { shard, checkpoint });
    }
    return planShards(described, stored).vanished.map((shardId) => stored.get(shardId) as ShardCheckpoint);
  }

  /** Shards not yet ended whose parents ended, parents first. */
  readableShards(): ShardState[] {
    const described = this.states().map((state) => state.shard);
    const progress = new Map(this.states().map((state) => [state.shard.shardId, state.checkpoint]));
    return planShards(described, progress).readable.map((shardId) => this.shards.get(shardId) as ShardState);
  }

  /** Writes a shard's checkpoint (fenced by the lease) and keeps it as the shard's state. */
  async save(state: ShardState, checkpoint: ShardCheckpoint): Promise<void> {
    await this.write(checkpoint);
    state.checkpoint = checkpoint;
  }

  /** Marks a shard read to its end. */
  async markEnded(state: ShardState): Promise<void> {
    this.options.logger.info({ shardId: state.shard.shardId }, 'shard read to its end');
    await this.save(state, { ...state.checkpoint, ended: true });
    state.iterator = undefined;
  }

  /** Writes a checkpoint of the current stream, fenced by the lease. */
  async write(checkpoint: ShardCheckpoint): Promise<void> {
    const { metrics, lease, checkpoints } = this.options;
    const streamArn = this.currentArn();
    try {
      await lease.fenced((fence) => checkpoints.write(streamArn, checkpoint, fence));
      metrics.checkpointWrites.inc({ outcome: 'ok' });
    } catch (error) {
      metrics.checkpointWrites.inc({ outcome: error instanceof LeaseLostError ? 'fenced' : 'failed' });
      throw error;
    }
  }

  private currentArn(): string {
    if (!this.stream) throw new AppError('relay.no_stream_entered', 'No stream entered yet', { retriable: true });
    return this.stream.arn;
  }

  /** With no stream on the table, the stream read last (its records are still readable for a day). */
  private async pointedStream(): Promise<string> {
    const pointer = await this.options.checkpoints.readStreamPointer();
    if (!pointer)
      throw new AppError('relay.no_stream', 'The outbox table has no stream; enable NEW_IMAGE streams on it', {
        retriable: true,
      });
    return pointer.streamArn;
  }
}
