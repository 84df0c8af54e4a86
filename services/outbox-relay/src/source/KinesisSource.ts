import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
  type _Record,
} from '@aws-sdk/client-kinesis';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { AppError } from '@outbox/shared';
import type { ChangeSource, RecordBatch, SourceRecord, StreamShard } from './StreamShard';

/** Options for {@link KinesisSource}. */
export interface KinesisSourceOptions {
  kinesis: KinesisClient;
  streamName: string;
  /** The stream's ARN (from {@link KinesisSource.streamArnOf}); keys the checkpoints. */
  streamArn: string;
}

/** The JSON a DynamoDB table's Kinesis streaming destination writes per change. */
interface DynamoDbKinesisRecord {
  eventName?: string;
  eventSource?: string;
  tableName?: string;
  dynamodb?: { NewImage?: Record<string, AttributeValue>; ApproximateCreationDateTime?: number };
}

const decoder = new TextDecoder();

/**
 * Reads a Kinesis data stream that a DynamoDB table feeds through its Kinesis streaming
 * destination. Same shard model as DynamoDB Streams (parents, a merge's adjacent parent, closed
 * shards), so the relay's lease, lineage and checkpoints apply unchanged. The destination may
 * reorder and duplicate records: {@link mayReorder} tells the relay to re-sequence each batch.
 */
export class KinesisSource implements ChangeSource {
  readonly streamArn: string;
  readonly mayReorder = true;
  private readonly options: KinesisSourceOptions;

  constructor(options: KinesisSourceOptions) {
    this.options = options;
    this.streamArn = options.streamArn;
  }

  /** The ARN of a Kinesis stream; fails clearly when it does not exist. */
  static async streamArnOf(kinesis: KinesisClient, streamName: string): Promise<string> {
    try {
      const { StreamDescriptionSummary } = await kinesis.send(
        new DescribeStreamSummaryCommand({ StreamName: streamName }),
      );
      if (!StreamDescriptionSummary?.StreamARN) throw new Error('no ARN in DescribeStreamSummary');
      return StreamDescriptionSummary.StreamARN;
    } catch (error) {
      throw new AppError(
        'relay.no_stream',
        `Kinesis stream ${streamName} cannot be described: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** Every shard, following `ListShards` pagination. */
  async listShards(): Promise<StreamShard[]> {
    const shards: StreamShard[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.options.kinesis.send(
        new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: this.options.streamName }),
      );
      for (const shard of page.Shards ?? []) {
        if (!shard.ShardId) continue;
        shards.push({
          shardId: shard.ShardId,
          parentShardId: shard.ParentShardId,
          adjacentParentShardId: shard.AdjacentParentShardId,
          startingSequenceNumber: shard.SequenceNumberRange?.StartingSequenceNumber,
          endingSequenceNumber: shard.SequenceNumberRange?.EndingSequenceNumber,
        });
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return shards;
  }

  async iteratorFor(shardId: string, afterSequenceNumber?: string): Promise<string | undefined> {
    const { ShardIterator } = await this.options.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: this.options.streamName,
        ShardId: shardId,
        ShardIteratorType: afterSequenceNumber ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
        StartingSequenceNumber: afterSequenceNumber,
      }),
    );
    return ShardIterator;
  }

  async read(shardId: string, iterator: string, limit: number): Promise<RecordBatch> {
    const { Records, NextShardIterator, MillisBehindLatest } = await this.options.kinesis.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
    );
    return {
      records: (Records ?? []).map((record) => toSourceRecord(shardId, record)),
      nextIterator: NextShardIterator,
      millisBehindLatest: MillisBehindLatest,
    };
  }
}

/** Decodes one destination record; one that is not such a record becomes an unreadable INSERT (dead-lettered). */
export function toSourceRecord(shardId: string, record: _Record): SourceRecord {
  const sequenceNumber = record.SequenceNumber ?? '';
  const text = record.Data ? decoder.decode(record.Data) : '';
  let parsed: DynamoDbKinesisRecord;
  try {
    parsed = JSON.parse(text) as DynamoDbKinesisRecord;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.eventName !== 'string')
      throw new Error('not a DynamoDB change record');
  } catch (error) {
    return { shardId, sequenceNumber, eventName: 'INSERT', raw: text, unreadable: (error as Error).message };
  }
  const image = parsed.dynamodb?.NewImage;
  return {
    shardId,
    sequenceNumber,
    eventName: parsed.eventName ?? 'UNKNOWN',
    newImage: image ? unmarshall(image) : undefined,
  };
}
