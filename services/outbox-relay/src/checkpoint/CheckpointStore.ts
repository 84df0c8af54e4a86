import { GetCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AppError } from '@outbox/shared';
import { LeaseLostError, type LeaseFence } from '../lease/LeaderLease';

/** Where the relay stands in one shard. */
export interface ShardCheckpoint {
  shardId: string;
  /** Sequence number of the last record whose event Kafka acknowledged. */
  sequenceNumber?: string;
  /** True once the shard was read to its end. */
  ended: boolean;
  parentShardId?: string;
  /** `occurredAt` of the newest event published from this shard: where a backfill starts. */
  lastOccurredAt?: string;
}

/** Options for {@link CheckpointStore}. */
export interface CheckpointStoreOptions {
  doc: DynamoDBDocumentClient;
  table: string;
  /** The stream the checkpoints belong to; a new stream ARN starts fresh checkpoints. */
  streamArn: string;
}

/**
 * Per-shard checkpoints in the RelayState table (`pk = STREAM#<arn>`, `sk = SHARD#<id>`). Every
 * write is a transaction that also checks the lease item still names this relay with the counter
 * it holds, so a deposed leader cannot move a checkpoint.
 */
export class CheckpointStore {
  private readonly options: CheckpointStoreOptions;

  constructor(options: CheckpointStoreOptions) {
    this.options = options;
  }

  get streamArn(): string {
    return this.options.streamArn;
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
      lastOccurredAt: Item.lastOccurredAt as string | undefined,
    };
  }

  /**
   * Stores a checkpoint in one transaction with a check of the lease `fence`; call only after
   * Kafka acknowledged every record up to it. Throws {@link LeaseLostError} when the fence fails.
   */
  async write(checkpoint: ShardCheckpoint, fence: LeaseFence): Promise<void> {
    try {
      await this.options.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: fence.table,
                Key: fence.key,
                ConditionExpression: '#owner = :owner AND #counter = :counter',
                ExpressionAttributeNames: { '#owner': 'owner', '#counter': 'counter' },
                ExpressionAttributeValues: { ':owner': fence.owner, ':counter': fence.counter },
              },
            },
            {
              Put: {
                TableName: this.options.table,
                Item: {
                  ...this.key(checkpoint.shardId),
                  streamArn: this.options.streamArn,
                  shardId: checkpoint.shardId,
                  sequenceNumber: checkpoint.sequenceNumber,
                  ended: checkpoint.ended,
                  parentShardId: checkpoint.parentShardId,
                  lastOccurredAt: checkpoint.lastOccurredAt,
                  leaseCounter: fence.counter,
                  owner: fence.owner,
                  updatedAt: new Date().toISOString(),
                },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (fenceFailed(error)) {
        throw new LeaseLostError(`checkpoint of shard ${checkpoint.shardId} refused: the lease moved on`, error);
      }
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

/** A cancelled transaction whose first action (the lease check) failed its condition. */
function fenceFailed(error: unknown): boolean {
  const e = error as { name?: string; CancellationReasons?: { Code?: string }[] } | null;
  return e?.name === 'TransactionCanceledException' && e.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
}
