import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { AppError } from '@outbox/shared';
import type { ChangeSource, RecordBatch, ShardStart, SourceRecord, StreamShard } from './StreamShard';
import { mayHaveLostItsStart, parentsOf } from './ShardLineage';
import { SourceError } from './SourceError';
import { sendForJsonBody } from './sendForJsonBody';
import { imageFromWire, type WireAttributeValue } from './imageFromWire';

/** Options for {@link KinesisSource}. */
export interface KinesisSourceOptions {
  kinesis: KinesisClient;
  streamName: string;
  /** The stream's ARN (from {@link KinesisSource.streamArnOf}); keys the checkpoints. */
  streamArn: string;
  /** Wall clock, ms since epoch (for the stream's retention). */
  now?: () => number;
}

/** The JSON a DynamoDB table's Kinesis streaming destination writes per change. */
interface DynamoDbKinesisRecord {
  eventName?: string;
  eventSource?: string;
  tableName?: string;
  dynamodb?: { NewImage?: Record<string, WireAttributeValue>; ApproximateCreationDateTime?: number };
}

/** A GetRecords answer as sent (the members the relay reads). */
interface WireGetRecordsOutput {
  Records?: WireKinesisRecord[];
  NextShardIterator?: string;
  MillisBehindLatest?: number;
}

/** A Kinesis record as sent: the data base64-encoded, the arrival time in epoch seconds. */
export interface WireKinesisRecord {
  SequenceNumber?: string;
  Data?: string;
  ApproximateArrivalTimestamp?: number;
}

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
  /** Shards of the last listing. */
  private described = new Set<string>();
  /** Per shard, the checkpointed record its pending iterator must return first. */
  private readonly expectFirst = new Map<string, { iterator: string; sequenceNumber: string }>();

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
    this.described = new Set(shards.map((shard) => shard.shardId));
    return shards;
  }

  /**
   * An iterator at `start`. Kinesis does not refuse a trimmed position, so trims are found here:
   * - after a checkpoint, the iterator starts AT the checkpointed record, and the first read must
   *   return that very record (dropped, it was published); any other first record means the
   *   checkpoint and maybe more were trimmed (`source.trimmed`, raised by {@link read});
   * - a shard never read may have lost its first records only when it is older than the stream's
   *   retention: when neither of its parents is still listed (a listed parent closed, and the
   *   child began, within the retention) and the stream itself is older than the retention.
   */
  async iteratorFor(shard: StreamShard, start: ShardStart): Promise<string | undefined> {
    const { kinesis, streamName } = this.options;
    if ('after' in start) {
      const { ShardIterator } = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shard.shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: start.after,
        }),
      );
      if (ShardIterator) this.expectFirst.set(shard.shardId, { iterator: ShardIterator, sequenceNumber: start.after });
      return ShardIterator;
    }
    if (start.from === 'start' && (await this.mayHaveLostItsStart(shard))) {
      throw new SourceError(
        'source.trimmed',
        shard.shardId,
        `${shard.shardId} was never read and is older than the stream's retention: its first records may be gone`,
      );
    }
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shard.shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    return ShardIterator;
  }

  async read(shardId: string, iterator: string, limit: number): Promise<RecordBatch> {
    let page;
    try {
      page = await sendForJsonBody<WireGetRecordsOutput>(
        this.options.kinesis,
        new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
      );
    } catch (error) {
      if ((error as { name?: string } | null)?.name === 'ExpiredIteratorException') {
        throw new SourceError('source.iterator_expired', shardId, `the iterator of ${shardId} expired`, {
          cause: error,
        });
      }
      throw error;
    }
    const { Records = [], NextShardIterator, MillisBehindLatest } = page;
    let records = Records;
    const expected = this.expectFirst.get(shardId);
    if (expected?.iterator === iterator) {
      this.expectFirst.delete(shardId);
      const first = records[0]?.SequenceNumber;
      if (first === undefined && NextShardIterator) {
        // An empty page proves nothing yet: the next one must start with the checkpoint.
        this.expectFirst.set(shardId, { iterator: NextShardIterator, sequenceNumber: expected.sequenceNumber });
      } else if (first === expected.sequenceNumber) {
        records = records.slice(1);
      } else {
        throw new SourceError(
          'source.trimmed',
          shardId,
          `the checkpointed record ${expected.sequenceNumber} of ${shardId} is gone from the stream` +
            (first === undefined ? '' : ` (it starts at ${first})`),
        );
      }
    }
    return {
      records: records.map((record) => toSourceRecord(shardId, record)),
      nextIterator: NextShardIterator,
      millisBehindLatest: MillisBehindLatest,
    };
  }

  private async mayHaveLostItsStart(shard: StreamShard): Promise<boolean> {
    // A listed parent settles it without asking for the stream's age.
    if (parentsOf(shard).some((parent) => this.described.has(parent))) return false;
    const { StreamDescriptionSummary: summary } = await this.options.kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: this.options.streamName }),
    );
    return mayHaveLostItsStart(shard, this.described, {
      createdAtMs: summary?.StreamCreationTimestamp?.getTime(),
      retentionMs: (summary?.RetentionPeriodHours ?? 24) * 3_600_000,
      nowMs: (this.options.now ?? Date.now)(),
    });
  }
}

/** Decodes one destination record; one that is not such a record becomes an unreadable INSERT (dead-lettered). */
export function toSourceRecord(shardId: string, record: WireKinesisRecord): SourceRecord {
  const sequenceNumber = record.SequenceNumber ?? '';
  const text = record.Data ? Buffer.from(record.Data, 'base64').toString('utf8') : '';
  const arrived = record.ApproximateArrivalTimestamp;
  const serverTimeMs = arrived === undefined ? undefined : Math.round(arrived * 1000);
  let parsed: DynamoDbKinesisRecord;
  try {
    parsed = JSON.parse(text) as DynamoDbKinesisRecord;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.eventName !== 'string')
      throw new Error('not a DynamoDB change record');
  } catch (error) {
    return {
      shardId,
      sequenceNumber,
      eventName: 'INSERT',
      raw: text,
      unreadable: (error as Error).message,
      serverTimeMs,
    };
  }
  const image = parsed.dynamodb?.NewImage;
  return {
    shardId,
    sequenceNumber,
    eventName: parsed.eventName ?? 'UNKNOWN',
    newImage: image ? imageFromWire(image) : undefined,
    serverTimeMs,
  };
}
