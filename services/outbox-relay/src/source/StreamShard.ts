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

/** A sharded change stream the relay reads: DynamoDB Streams or a Kinesis data stream. */
export interface ChangeSource {
  /** Identifies the stream; checkpoints are kept per stream. */
  readonly streamArn: string;
  /** True when records of one aggregate may arrive out of order or twice (Kinesis destination). */
  readonly mayReorder?: boolean;
  /** Every shard the stream still describes, following pagination. */
  listShards(): Promise<StreamShard[]>;
  /**
   * An iterator just after `afterSequenceNumber`, or at the oldest retained record; `undefined`
   * when the shard has nothing more to give. Throws `TrimmedDataAccessException` (by name) when
   * the sequence number lies before the trim horizon.
   */
  iteratorFor(shardId: string, afterSequenceNumber?: string): Promise<string | undefined>;
  /** Reads the next records of a shard. May throw `ExpiredIteratorException` (by name). */
  read(shardId: string, iterator: string, limit: number): Promise<RecordBatch>;
}
