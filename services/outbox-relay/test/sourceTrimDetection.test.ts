import { randomUUID } from 'node:crypto';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  PutRecordsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { createDynamoDbClients, createDynamoDbStreamsClient, createKinesisClient } from '@outbox/shared';
import { createTestTables, testEndpoints, uniqueName } from '@outbox/testkit';
import { DynamoDbStreamSource } from '../src/source/DynamoDbStreamSource';
import { KinesisSource } from '../src/source/KinesisSource';
import { SourceError } from '../src/source/SourceError';
import { writeOutboxEvent, streamActive } from './support';

const encode = (text: string) => new TextEncoder().encode(text);
const change = (aggregateId: string, seq: number) =>
  encode(
    JSON.stringify({
      eventName: 'INSERT',
      dynamodb: { NewImage: { aggregateId: { S: aggregateId }, seq: { N: String(seq) } } },
    }),
  );

/** A Kinesis client answering each command with the next recorded response (or error) for it. */
/** Bytes as a GetRecords body carries them. */
const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

function recordedKinesis(answers: Record<string, unknown[]>): KinesisClient {
  return {
    send: async (command: { constructor: { name: string } }) => {
      const queue = answers[command.constructor.name];
      if (!queue || queue.length === 0) throw new Error(`no recorded answer for ${command.constructor.name}`);
      const answer = queue.shift();
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as KinesisClient;
}

const awsError = (name: string) => Object.assign(new Error(name), { name });

describe('sources report trims and expired iterators in their own words', () => {
  test('When DynamoDB Streams refuses the iterator after a checkpoint as trimmed, then the source raises source.trimmed (recorded shape: DynamoDB Local keeps records 24 h)', async () => {
    const streams = { send: async () => Promise.reject(awsError('TrimmedDataAccessException')) };
    const source = new DynamoDbStreamSource({ streams: streams as unknown as DynamoDBStreamsClient, streamArn: 'arn' });
    const shard = { shardId: 'shardId-1' };
    const refused = source.iteratorFor(shard, { after: '000000000000000000007' });
    await expect(refused).rejects.toBeInstanceOf(SourceError);
    await expect(refused).rejects.toMatchObject({ code: 'source.trimmed', shardId: 'shardId-1' });
  });

  test('When a never-read DynamoDB shard has no listed parent and the stream is older than 24 h, then source.trimmed is raised; with a listed parent, or on a young stream, it reads from TRIM_HORIZON (recorded shapes)', async () => {
    const now = Date.UTC(2026, 10, 25, 12);
    const streamsAnswering = (ageHours: number) => {
      const calls: string[] = [];
      const client = {
        send: async (command: { constructor: { name: string }; input: { ShardIteratorType?: string } }) => {
          calls.push(command.constructor.name);
          if (command.constructor.name === 'DescribeStreamCommand') {
            return {
              StreamDescription: {
                CreationRequestDateTime: new Date(now - ageHours * 3_600_000),
                Shards: [
                  { ShardId: 'shardId-old', ParentShardId: 'shardId-expired' },
                  { ShardId: 'shardId-new', ParentShardId: 'shardId-old' },
                ],
              },
            };
          }
          return { ShardIterator: `it-${command.input.ShardIteratorType}` };
        },
      };
      return { client: client as unknown as DynamoDBStreamsClient, calls };
    };
    const old = streamsAnswering(48);
    const source = new DynamoDbStreamSource({ streams: old.client, streamArn: 'arn', now: () => now });
    const [orphan, child] = await source.listShards();
    await expect(source.iteratorFor(orphan!, { from: 'start' })).rejects.toMatchObject({ code: 'source.trimmed' });
    expect(await source.iteratorFor(child!, { from: 'start' })).toBe('it-TRIM_HORIZON');
    expect(await source.iteratorFor(orphan!, { from: 'trim_horizon' })).toBe('it-TRIM_HORIZON');

    const young = streamsAnswering(2);
    const youngSource = new DynamoDbStreamSource({ streams: young.client, streamArn: 'arn', now: () => now });
    expect(await youngSource.iteratorFor({ shardId: 'shardId-old', parentShardId: 'x' }, { from: 'start' })).toBe(
      'it-TRIM_HORIZON',
    );
  });

  test('When GetRecords says the iterator expired or fell behind the horizon, then the DynamoDB source raises source.iterator_expired (recorded shape)', async () => {
    for (const name of ['ExpiredIteratorException', 'TrimmedDataAccessException']) {
      const streams = { send: async () => Promise.reject(awsError(name)) };
      const source = new DynamoDbStreamSource({
        streams: streams as unknown as DynamoDBStreamsClient,
        streamArn: 'arn',
      });
      await expect(source.read('shardId-1', 'it', 10)).rejects.toMatchObject({ code: 'source.iterator_expired' });
    }
  });

  test('When a never-read DynamoDB shard of a young stream is read, then nothing is reported trimmed and records carry their server-side creation time, not the writer occurredAt (DynamoDB Local)', async () => {
    const { dynamodb, region } = testEndpoints();
    const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
    const streams = createDynamoDbStreamsClient({ region, endpoint: dynamodb });
    try {
      const tables = await createTestTables();
      const before = Date.now();
      const written = await writeOutboxEvent(doc, tables.outbox, { occurredAt: '2099-01-01T00:00:00.000Z' });
      const streamArn = (await client.send(new DescribeTableCommand({ TableName: tables.outbox }))).Table
        ?.LatestStreamArn as string;
      const source = new DynamoDbStreamSource({ streams, streamArn });
      const [shard] = await source.listShards();
      const iterator = await source.iteratorFor(shard!, { from: 'start' });
      const batch = await source.read(shard!.shardId, iterator as string, 10);
      expect(batch.records.map((r) => r.newImage?.aggregateId)).toEqual([written.aggregateId]);
      // Server time, not the writer's far-future occurredAt (DynamoDB Local rounds it down).
      expect(batch.records[0]?.serverTimeMs).toBeGreaterThan(before - 120_000);
      expect(batch.records[0]?.serverTimeMs).toBeLessThanOrEqual(Date.now());
    } finally {
      client.destroy();
      streams.destroy();
    }
  });

  test('When the checkpointed Kinesis record is gone (the stream starts after it), then the first read raises source.trimmed (recorded shapes: kinesalite cannot trim)', async () => {
    const kinesis = recordedKinesis({
      GetShardIteratorCommand: [{ ShardIterator: 'it-1' }],
      GetRecordsCommand: [
        { Records: [{ SequenceNumber: '905', Data: base64(change('a', 9)) }], NextShardIterator: 'it-2' },
      ],
    });
    const source = new KinesisSource({ kinesis, streamName: 's', streamArn: 'arn' });
    const iterator = await source.iteratorFor({ shardId: 'shardId-1' }, { after: '900' });
    await expect(source.read('shardId-1', iterator as string, 10)).rejects.toMatchObject({ code: 'source.trimmed' });
  });

  test('When a Kinesis read after the checkpoint first comes back empty and then starts with the checkpointed record, then that record is dropped and nothing is reported trimmed (recorded shapes)', async () => {
    const kinesis = recordedKinesis({
      GetShardIteratorCommand: [{ ShardIterator: 'it-1' }],
      GetRecordsCommand: [
        { Records: [], NextShardIterator: 'it-2', MillisBehindLatest: 1000 },
        {
          Records: [
            { SequenceNumber: '900', Data: base64(change('a', 1)), ApproximateArrivalTimestamp: 1 },
            { SequenceNumber: '901', Data: base64(change('a', 2)), ApproximateArrivalTimestamp: 2 },
          ],
          NextShardIterator: 'it-3',
        },
      ],
    });
    const source = new KinesisSource({ kinesis, streamName: 's', streamArn: 'arn' });
    const iterator = await source.iteratorFor({ shardId: 'shardId-1' }, { after: '900' });
    const empty = await source.read('shardId-1', iterator as string, 10);
    expect(empty.records).toEqual([]);
    const next = await source.read('shardId-1', empty.nextIterator as string, 10);
    expect(next.records.map((r) => [r.sequenceNumber, r.serverTimeMs])).toEqual([['901', 2000]]);
  });

  test('When a never-read Kinesis shard has no listed parent and the stream is older than its retention, then source.trimmed is raised; with a listed parent or a young stream it reads from the trim horizon (recorded shapes)', async () => {
    const now = Date.UTC(2026, 10, 25, 12);
    const summary = (ageHours: number) => ({
      StreamDescriptionSummary: {
        StreamCreationTimestamp: new Date(now - ageHours * 3_600_000),
        RetentionPeriodHours: 24,
      },
    });
    const old = new KinesisSource({
      kinesis: recordedKinesis({
        ListShardsCommand: [{ Shards: [{ ShardId: 'shardId-2', ParentShardId: 'shardId-0' }] }],
        DescribeStreamSummaryCommand: [summary(48)],
      }),
      streamName: 's',
      streamArn: 'arn',
      now: () => now,
    });
    const [orphan] = await old.listShards();
    await expect(old.iteratorFor(orphan!, { from: 'start' })).rejects.toMatchObject({ code: 'source.trimmed' });

    const young = new KinesisSource({
      kinesis: recordedKinesis({
        DescribeStreamSummaryCommand: [summary(2)],
        GetShardIteratorCommand: [{ ShardIterator: 'it-young' }],
      }),
      streamName: 's',
      streamArn: 'arn',
      now: () => now,
    });
    expect(await young.iteratorFor({ shardId: 'shardId-0' }, { from: 'start' })).toBe('it-young');

    const child = new KinesisSource({
      kinesis: recordedKinesis({
        ListShardsCommand: [
          { Shards: [{ ShardId: 'shardId-0' }, { ShardId: 'shardId-1', ParentShardId: 'shardId-0' }] },
        ],
        GetShardIteratorCommand: [{ ShardIterator: 'it-child' }],
      }),
      streamName: 's',
      streamArn: 'arn',
      now: () => now,
    });
    const shards = await child.listShards();
    expect(await child.iteratorFor(shards[1]!, { from: 'start' })).toBe('it-child');
    // After a backfill covered the trimmed start, the horizon is read without another check.
    const covered = new KinesisSource({
      kinesis: recordedKinesis({ GetShardIteratorCommand: [{ ShardIterator: 'it-covered' }] }),
      streamName: 's',
      streamArn: 'arn',
    });
    expect(await covered.iteratorFor({ shardId: 'shardId-2' }, { from: 'trim_horizon' })).toBe('it-covered');
  });

  test('When a Kinesis shard is read on from its checkpoint, then the checkpointed record comes back first and is dropped, and records carry their arrival time (kinesalite)', async () => {
    const { kinesis: endpoint, region } = testEndpoints();
    const kinesis = createKinesisClient({ region, endpoint });
    const streamName = uniqueName('trim-check');
    try {
      await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 }));
      await streamActive(kinesis, streamName);
      const id = randomUUID();
      await kinesis.send(
        new PutRecordsCommand({
          StreamName: streamName,
          Records: [1, 2, 3].map((seq) => ({ Data: change(id, seq), PartitionKey: id })),
        }),
      );
      const source = new KinesisSource({
        kinesis,
        streamName,
        streamArn: await KinesisSource.streamArnOf(kinesis, streamName),
      });
      const [shard] = await source.listShards();
      const first = await source.read(
        shard!.shardId,
        (await source.iteratorFor(shard!, { from: 'start' })) as string,
        1,
      );
      expect(first.records.map((r) => r.newImage?.seq)).toEqual([1]);
      expect(first.records[0]?.serverTimeMs).toBeGreaterThan(Date.now() - 120_000);
      const checkpoint = first.records[0]!.sequenceNumber;
      const rest = await source.read(
        shard!.shardId,
        (await source.iteratorFor(shard!, { after: checkpoint })) as string,
        10,
      );
      expect(rest.records.map((r) => r.newImage?.seq)).toEqual([2, 3]);
    } finally {
      await kinesis.send(new DeleteStreamCommand({ StreamName: streamName })).catch(() => undefined);
      kinesis.destroy();
    }
  });
});
