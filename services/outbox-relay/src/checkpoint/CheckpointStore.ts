import { GetCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AppError } from '@outbox/shared';
import { LeaseLostError, type LeaseFence } from '../lease/LeaderLease';
import { queryShardItems, toCheckpoint } from '../lease/ShardLeases';
import type { ShardCheckpoint } from '../source/ShardCheckpoint';

export type { ShardCheckpoint };

/** Which stream the relay reads, so it notices when the table's stream was replaced. */
export interface StreamPointer {
  streamArn: string;
}

/** Options for {@link CheckpointStore}. */
export interface CheckpointStoreOptions {
  doc: DynamoDBDocumentClient;
  table: string;
  /** Names the relay group (the outbox table's name); keys the stream pointer. */
  relayName: string;
}

/** The part of {@link CheckpointStore} the relay uses; tests may fake it. */
export type Checkpoints = Pick<CheckpointStore, 'read' | 'list' | 'write' | 'readStreamPointer' | 'writeStreamPointer'>;

/**
 * Per-shard checkpoints in the RelayState table (`pk = STREAM#<arn>`, `sk = SHARD#<id>`), and a
 * pointer to the stream being read (`pk = RELAY#<name>`, `sk = STREAM`). Every write is a
 * transaction that also checks the lease item still names this relay with the counter it holds,
 * so a deposed leader cannot move a checkpoint.
 */
export class CheckpointStore {
  private readonly options: CheckpointStoreOptions;

  constructor(options: CheckpointStoreOptions) {
    this.options = options;
  }

  /** The checkpoint of a shard, or `undefined` when the relay never finished a batch there. */
  async read(streamArn: string, shardId: string): Promise<ShardCheckpoint | undefined> {
    const { Item } = await this.options.doc.send(
      new GetCommand({ TableName: this.options.table, Key: this.key(streamArn, shardId), ConsistentRead: true }),
    );
    return Item ? toCheckpoint(Item) : undefined;
  }

  /** Every checkpoint of a stream. */
  async list(streamArn: string): Promise<ShardCheckpoint[]> {
    const items = await queryShardItems(this.options.doc, this.options.table, streamArn);
    return items.map(toCheckpoint);
  }

  /**
   * Stores a checkpoint in one transaction with a check of the lease `fence`; call only after
   * Kafka acknowledged every record up to it. Throws {@link LeaseLostError} when the fence fails.
   */
  async write(streamArn: string, checkpoint: ShardCheckpoint, fence: LeaseFence): Promise<void> {
    await this.fencedPut(
      {
        ...this.key(streamArn, checkpoint.shardId),
        streamArn,
        shardId: checkpoint.shardId,
        sequenceNumber: checkpoint.sequenceNumber,
        ended: checkpoint.ended,
        parentShardId: checkpoint.parentShardId,
        lastOccurredAt: checkpoint.lastOccurredAt,
        lastServerTimeMs: checkpoint.lastServerTimeMs,
        trimBackfilled: checkpoint.trimBackfilled,
      },
      fence,
      `checkpoint of shard ${checkpoint.shardId}`,
    );
  }

  /** The stream the relay last read, or `undefined` before the first one. */
  async readStreamPointer(): Promise<StreamPointer | undefined> {
    const { Item } = await this.options.doc.send(
      new GetCommand({ TableName: this.options.table, Key: this.pointerKey(), ConsistentRead: true }),
    );
    return typeof Item?.streamArn === 'string' ? { streamArn: Item.streamArn } : undefined;
  }

  /** Records the stream the relay reads now, fenced like a checkpoint. */
  async writeStreamPointer(pointer: StreamPointer, fence: LeaseFence): Promise<void> {
    await this.fencedPut({ ...this.pointerKey(), streamArn: pointer.streamArn }, fence, 'stream pointer');
  }

  private async fencedPut(item: Record<string, unknown>, fence: LeaseFence, what: string): Promise<void> {
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
                Item: { ...item, leaseCounter: fence.counter, owner: fence.owner, updatedAt: new Date().toISOString() },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (fenceFailed(error)) throw new LeaseLostError(`${what} refused: the lease moved on`, error);
      throw new AppError('checkpoint.write_failed', `Could not write the ${what}`, { retriable: true, cause: error });
    }
  }

  private key(streamArn: string, shardId: string) {
    return { pk: `STREAM#${streamArn}`, sk: `SHARD#${shardId}` };
  }

  private pointerKey() {
    return { pk: `RELAY#${this.options.relayName}`, sk: 'STREAM' };
  }
}

/** A cancelled transaction whose first action (the lease check) failed its condition. */
function fenceFailed(error: unknown): boolean {
  const e = error as { name?: string; CancellationReasons?: { Code?: string }[] } | null;
  return e?.name === 'TransactionCanceledException' && e.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
}
