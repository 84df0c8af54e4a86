/** One shard of the change stream, as the relay sees it. */
export interface StreamShard {
  shardId: string;
  parentShardId?: string;
  /** Kinesis only: the other parent of a merged shard. */
  adjacentParentShardId?: string;
  startingSequenceNumber?: string;
  /** Set when the shard is closed: no record comes after this sequence number. */
  endingSequenceNumber?: string;
}

/** A change record read from a shard. */
export interface SourceRecord {
  shardId: string;
  sequenceNumber: string;
  /** INSERT, MODIFY or REMOVE. */
  eventName: string;
  /** The item after the change (plain JS values); absent for REMOVE. */
  newImage?: Record<string, unknown>;
  /**
   * When the stream service took the change, ms since epoch (DynamoDB Streams'
   * `ApproximateCreationDateTime`, Kinesis' `ApproximateArrivalTimestamp`): a server-side time
   * no writer's clock can move. Absent for records re-read from the outbox table.
   */
  serverTimeMs?: number;
  /** Set when the record could not be decoded at all: why, with its raw text in `raw`. */
  unreadable?: string;
  raw?: string;
}

/** What one GetRecords call returned. */
export interface RecordBatch {
  records: SourceRecord[];
  /** `undefined` once the shard is closed and read to its end. */
  nextIterator?: string;
  /** Kinesis only: how far this read is behind the shard's tip, in ms. */
  millisBehindLatest?: number;
}

/** Where to start reading a shard. */
export type ShardStart =
  /** Just after the checkpoint; `source.trimmed` when records after it are gone from the stream. */
  | { after: string }
  /** The shard's first record (never read before); `source.trimmed` when records before the oldest retained one are gone. */
  | { from: 'start' }
  /** The oldest retained record, whatever was trimmed before it (a backfill already covered that). */
  | { from: 'trim_horizon' };

/** A sharded change stream the relay reads: DynamoDB Streams or a Kinesis data stream. */
export interface ChangeSource {
  /** Identifies the stream; checkpoints are kept per stream. */
  readonly streamArn: string;
  /** True when records of one aggregate may arrive out of order or twice (Kinesis destination). */
  readonly mayReorder?: boolean;
  /** Every shard the stream still describes, following pagination. */
  listShards(): Promise<StreamShard[]>;
  /**
   * An iterator at `start`; `undefined` when the shard has nothing more to give. Throws a
   * `SourceError` `source.trimmed` when records the relay has not read are gone from the stream.
   */
  iteratorFor(shard: StreamShard, start: ShardStart): Promise<string | undefined>;
  /**
   * Reads the next records of a shard. Throws a `SourceError`: `source.iterator_expired` when
   * the iterator is no longer valid (re-acquire it from the checkpoint), `source.trimmed` when
   * the read shows records after the checkpoint were trimmed.
   */
  read(shardId: string, iterator: string, limit: number): Promise<RecordBatch>;
  /** The relay stopped reading the shard (its loop ended: lease lost or released, shard ended): let go of what is held for it. */
  release?(shardId: string): void;
}
