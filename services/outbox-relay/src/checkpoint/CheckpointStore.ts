import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AppError } from '@outbox/shared';

/** Where the relay stands in one shard. */
export interface ShardCheckpoint {
  shardId: string;
  /** Sequence number of the last record whose event Kafka acknowledged. */
  sequenceNumber?: string;
  /** True once the shard was read to its end. */
  ended: boolean;
  parentShardId?: string;
}

/** Options for {@link CheckpointStore}. */
export interface CheckpointStoreOptions {
  doc: DynamoDBDocumentClient;
  table: string;
  /** The stream the checkpoints belong to; a new stream ARN starts fresh checkpoints. */
  streamArn: string;
}

/** Per-shard checkpoints in the RelayState table (`pk = STREAM#<arn>`, `sk = SHARD#<id>`). */
export class CheckpointStore {
  private readonly options: CheckpointStoreOptions;

  constructor(options: CheckpointStoreOptions) {
    this.options = options;
  }

  /** The checkpoint of a shard, or `undefined` when the relay never finished a batch there. */
  async read(shardId: string): Promise<ShardCheckpoint | undefined> {
    const { Item } = await this.options.doc.send(
      new GetCommand({ TableName: this.options.table, Key: this.key(shardId), ConsistentRead: true }),
    );
    if (!Item) return undefined;
    return {
      shardId,
      sequenceNumber: Item.sequenceNumber as string | undefined,
      ended: Item.ended === true,
      parentShardId: Item.parentShardId as string | undefined,
    };
  }

  /** Stores a checkpoint; call only after Kafka acknowledged every record up to it. */
  async write(checkpoint: ShardCheckpoint): Promise<void> {
    try {
      await this.options.doc.send(
        new PutCommand({
          TableName: this.options.table,
          Item: {
            ...this.key(checkpoint.shardId),
            streamArn: this.options.streamArn,
            shardId: checkpoint.shardId,
            sequenceNumber: checkpoint.sequenceNumber,
            ended: checkpoint.ended,
            parentShardId: checkpoint.parentShardId,
            updatedAt: new Date().toISOString(),
          },
        }),
      );
    } catch (error) {
      throw new AppError('checkpoint.write_failed', `Could not write the checkpoint of shard ${checkpoint.shardId}`, {
        retriable: true,
        cause: error,
      });
    }
  }

  private key(shardId: string) {
    return { pk: `STREAM#${this.options.streamArn}`, sk: `SHARD#${shardId}` };
  }
}
