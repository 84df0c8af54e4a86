/** Where the relay stands in one shard. */
export interface ShardCheckpoint {
  shardId: string;
  /** Sequence number of the last record whose event Kafka acknowledged. */
  sequenceNumber?: string;
  /** True once the shard was read to its end. */
  ended: boolean;
  parentShardId?: string;
  /** `occurredAt` of the newest event published from this shard (writer's clock; informative). */
  lastOccurredAt?: string;
  /**
   * Server-side time (ms) of the last record read from this shard (`ApproximateCreationDateTime`
   * or `ApproximateArrivalTimestamp`): where a backfill starts, no writer's clock involved.
   */
  lastServerTimeMs?: number;
  /**
   * True once what the stream trimmed before the shard's oldest retained record was backfilled
   * from the table: the shard is then read from its trim horizon without another trim check.
   */
  trimBackfilled?: boolean;
}
