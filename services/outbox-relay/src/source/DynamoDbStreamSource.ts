import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
} from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AppError } from '@outbox/shared';
import type { ChangeSource, RecordBatch, ShardStart, SourceRecord, StreamShard } from './StreamShard';
import { SourceError } from './SourceError';
import { mayHaveLostItsStart } from './ShardLineage';
import { sendForJsonBody } from './sendForJsonBody';
import { imageFromWire, type WireAttributeValue } from './imageFromWire';

/** Options for {@link DynamoDbStreamSource}. */
export interface DynamoDbStreamSourceOptions {
  streams: DynamoDBStreamsClient;
  streamArn: string;
  /** Wall clock, ms since epoch (for the stream's 24 h retention). */
  now?: () => number;
}

/** DynamoDB Streams keeps records 24 hours. */
const RETENTION_MS = 24 * 3_600_000;

/** Reads the outbox table's DynamoDB stream: its shards, iterators and records. */
export class DynamoDbStreamSource implements ChangeSource {
  readonly streamArn: string;
  private readonly streams: DynamoDBStreamsClient;
  private readonly now: () => number;
  /** Shards of the last listing, and when the stream was created. */
  private listed = new Set<string>();
  private createdAtMs?: number;

  constructor(options: DynamoDbStreamSourceOptions) {
    this.streams = options.streams;
    this.streamArn = options.streamArn;
    this.now = options.now ?? Date.now;
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
      const created = StreamDescription?.CreationRequestDateTime;
      if (created !== undefined) this.createdAtMs = new Date(created).getTime();
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    this.listed = new Set(shards.map((shard) => shard.shardId));
    return shards;
  }

  /**
   * An iterator at `start`. After a checkpoint, `TrimmedDataAccessException` (the checkpoint lies
   * before the trim horizon) becomes `source.trimmed`. A shard never read starts at TRIM_HORIZON,
   * but first `source.trimmed` when it may have lost records before its oldest retained one: no
   * parent still listed and a stream older than the 24 h retention (a shard's
   * `StartingSequenceNumber` need not be a record's, so it cannot tell).
   */
  async iteratorFor(shard: StreamShard, start: ShardStart): Promise<string | undefined> {
    if ('from' in start && start.from === 'start') {
      const listed = this.listed.size > 0 ? this.listed : new Set((await this.listShards()).map((s) => s.shardId));
      const stream = { createdAtMs: this.createdAtMs, retentionMs: RETENTION_MS, nowMs: this.now() };
      if (mayHaveLostItsStart(shard, listed, stream)) {
        throw new SourceError(
          'source.trimmed',
          shard.shardId,
          `${shard.shardId} was never read and may have lost its first records: the stream is older than 24 h`,
        );
      }
    }
    const position =
      'after' in start
        ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, SequenceNumber: start.after }
        : { ShardIteratorType: 'TRIM_HORIZON' as const };
    try {
      const { ShardIterator } = await this.streams.send(
        new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shard.shardId, ...position }),
      );
      return ShardIterator;
    } catch (error) {
      if (nameOf(error) === 'TrimmedDataAccessException') {
        throw new SourceError(
          'source.trimmed',
          shard.shardId,
          `records of ${shard.shardId} after ${position.SequenceNumber ?? 'its start'} were trimmed from the stream`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /**
   * Reads the next records of a shard. An iterator that expired, or fell behind the trim horizon
   * between two reads, becomes `source.iterator_expired`: only a refused GetShardIterator from the
   * checkpoint proves records were lost.
   */
  async read(shardId: string, iterator: string, limit: number): Promise<RecordBatch> {
    try {
      const { Records, NextShardIterator } = await sendForJsonBody<WireGetRecordsOutput>(
        this.streams,
        new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
      );
      return {
        records: (Records ?? []).map((record) => toSourceRecord(shardId, record)),
        nextIterator: NextShardIterator,
      };
    } catch (error) {
      const name = nameOf(error);
      if (name === 'ExpiredIteratorException' || name === 'TrimmedDataAccessException') {
        throw new SourceError(
          'source.iterator_expired',
          shardId,
          `the iterator of ${shardId} is no longer valid (${name})`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }
}

function nameOf(error: unknown): string | undefined {
  return (error as { name?: string } | null)?.name;
}

/** A GetRecords answer as sent (the members the relay reads). */
interface WireGetRecordsOutput {
  Records?: WireRecord[];
  NextShardIterator?: string;
}

/** A DynamoDB stream record as sent: attribute values in their JSON form, times in epoch seconds. */
interface WireRecord {
  eventName?: string;
  dynamodb?: {
    SequenceNumber?: string;
    ApproximateCreationDateTime?: number;
    NewImage?: Record<string, WireAttributeValue>;
  };
}

function toSourceRecord(shardId: string, record: WireRecord): SourceRecord {
  const image = record.dynamodb?.NewImage;
  const created = record.dynamodb?.ApproximateCreationDateTime;
  return {
    shardId,
    sequenceNumber: record.dynamodb?.SequenceNumber ?? '',
    eventName: record.eventName ?? 'UNKNOWN',
    newImage: image ? imageFromWire(image) : undefined,
    serverTimeMs: created === undefined ? undefined : Math.round(created * 1000),
  };
}
