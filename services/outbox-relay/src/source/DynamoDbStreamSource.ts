import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { AppError } from '@outbox/shared';
import type { ChangeSource, RecordBatch, SourceRecord, StreamShard } from './StreamShard';

/** Options for {@link DynamoDbStreamSource}. */
export interface DynamoDbStreamSourceOptions {
  streams: DynamoDBStreamsClient;
  streamArn: string;
}

/** Reads the outbox table's DynamoDB stream: its shards, iterators and records. */
export class DynamoDbStreamSource implements ChangeSource {
  readonly streamArn: string;
  private readonly streams: DynamoDBStreamsClient;

  constructor(options: DynamoDbStreamSourceOptions) {
    this.streams = options.streams;
    this.streamArn = options.streamArn;
  }

  /** Finds the latest stream of a table; fails clearly when the table has no stream enabled. */
  static async latestStreamArn(client: DynamoDBClient, tableName: string): Promise<string> {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (!Table?.LatestStreamArn || !Table.StreamSpecification?.StreamEnabled) {
      throw new AppError('relay.no_stream', `Table ${tableName} has no stream enabled; enable NEW_IMAGE streams on it`);
    }
    return Table.LatestStreamArn;
  }

  /** The table's latest stream ARN (enabled or not), or `undefined` when it never had one. */
  static async currentStreamArn(client: DynamoDBClient, tableName: string): Promise<string | undefined> {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return Table?.LatestStreamArn;
  }

  /** Every shard of the stream, following `DescribeStream` pagination. */
  async listShards(): Promise<StreamShard[]> {
    const shards: StreamShard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.streams.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        if (!shard.ShardId) continue;
        shards.push({
          shardId: shard.ShardId,
          parentShardId: shard.ParentShardId,
          startingSequenceNumber: shard.SequenceNumberRange?.StartingSequenceNumber,
          endingSequenceNumber: shard.SequenceNumberRange?.EndingSequenceNumber,
        });
      }
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return shards;
  }

  /** An iterator just after `afterSequenceNumber`, or at the oldest retained record. */
  async iteratorFor(shardId: string, afterSequenceNumber?: string): Promise<string | undefined> {
    const { ShardIterator } = await this.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shardId,
        ShardIteratorType: afterSequenceNumber ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
        SequenceNumber: afterSequenceNumber,
      }),
    );
    return ShardIterator;
  }

  /** Reads the next records of a shard. */
  async read(shardId: string, iterator: string, limit: number): Promise<RecordBatch> {
    const { Records, NextShardIterator } = await this.streams.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
    );
    return {
      records: (Records ?? []).map((record) => toSourceRecord(shardId, record)),
      nextIterator: NextShardIterator,
    };
  }
}

function toSourceRecord(shardId: string, record: _Record): SourceRecord {
  const image = record.dynamodb?.NewImage;
  return {
    shardId,
    sequenceNumber: record.dynamodb?.SequenceNumber ?? '',
    eventName: record.eventName ?? 'UNKNOWN',
    newImage: image ? unmarshall(image as Record<string, AttributeValue>) : undefined,
  };
}
