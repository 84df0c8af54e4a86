/** One shard of the change stream, as the relay sees it. */
export interface StreamShard {
  shardId: string;
  parentShardId?: string;
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
}

/** What one GetRecords call returned. */
export interface RecordBatch {
  records: SourceRecord[];
  /** `undefined` once the shard is closed and read to its end. */
  nextIterator?: string;
}
