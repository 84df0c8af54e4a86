import { AppError } from '@outbox/shared';
import type { LeaderLease } from '../lease/LeaderLease';
import type { Checkpoints, ShardCheckpoint } from '../checkpoint/CheckpointStore';
import type { ChangeSource, StreamShard } from '../source/StreamShard';
import type { ShardLagState } from './shardLag';

/** Where the relay stands in one shard it leads. */
export interface ShardState extends ShardLagState {
  shard: StreamShard;
  /** Where the shard stands in memory (moves after every acknowledged batch; stored coalesced). */
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
  /** Kinesis only: how far the last read was behind the shard's tip, in ms. */
  millisBehindLatest?: number;
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
  /** The coordinator lease: only its holder moves the stream pointer. */
  coordinator: Pick<LeaderLease, 'fenced'>;
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
 * Follows the stream the relays read: the coordinator follows the table's latest stream and
 * moves the stream pointer (fenced by its lease) once what a replacement lost was backfilled;
 * every instance reads the stream the pointer names.
 */
export class ShardTracker {
  private readonly options: ShardTrackerOptions;
  private stream?: { arn: string; source: ChangeSource };

  constructor(options: ShardTrackerOptions) {
    this.options = options;
  }

  /** True once a stream was entered. */
  get hasStream(): boolean {
    return this.stream !== undefined;
  }

  /** The ARN of the stream entered, if any. */
  get streamArn(): string | undefined {
    return this.stream?.arn;
  }

  /** The reader of the current stream. */
  get source(): ChangeSource {
    if (!this.stream) throw new AppError('relay.no_stream_entered', 'No stream entered yet', { retriable: true });
    return this.stream.source;
  }

  /** Forgets the stream (a new coordinator term looks at the table's stream afresh). */
  forget(): void {
    this.stream = undefined;
  }

  /**
   * The coordinator's view: the stream to read next when it differs from the current one, with
   * the previous stream's checkpoints when the table's stream was replaced; `undefined` when
   * nothing changed.
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

  /** The stream the pointer names, when it differs from the current one (every instance follows it). */
  async pointerChange(): Promise<string | undefined> {
    const pointer = await this.options.checkpoints.readStreamPointer();
    if (!pointer || pointer.streamArn === this.stream?.arn) return undefined;
    return pointer.streamArn;
  }

  /** Starts reading `streamArn`; the coordinator (after the backfill of a replacement) also moves the pointer. */
  async enterStream(streamArn: string, movePointer: boolean): Promise<void> {
    const { checkpoints, coordinator } = this.options;
    if (movePointer) {
      const pointer = await checkpoints.readStreamPointer();
      if (pointer?.streamArn !== streamArn) {
        await coordinator.fenced((fence) => checkpoints.writeStreamPointer({ streamArn }, fence));
      }
    }
    this.stream = { arn: streamArn, source: this.options.sourceFor(streamArn) };
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
