import { randomUUID } from 'node:crypto';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { createDynamoDbClients, createKinesisClient } from '@outbox/shared';
import { createTestTables, createTestTopic, readTopic, testEndpoints, uniqueName, waitFor } from '@outbox/testkit';
import { CheckpointStore } from '../src/checkpoint/CheckpointStore';
import { start, type RelayHandle } from '../src/start';
import {
  checkPerAggregateOrder,
  destinationRecord,
  kinesisRelayEnv,
  scrape,
  relayTestConfig,
  streamActive,
} from './support';

describe('Kinesis source (kinesalite)', () => {
  const { dynamodb, kinesis: kinesisEndpoint, region } = testEndpoints();
  const kinesis = createKinesisClient({ region, endpoint: kinesisEndpoint });
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  const streamName = uniqueName('outbox-kinesis');
  let relay: RelayHandle | undefined;
  afterAll(async () => {
    await relay?.stop();
    await kinesis.send(new DeleteStreamCommand({ StreamName: streamName })).catch(() => undefined);
    kinesis.destroy();
    client.destroy();
  });

  const active = () => streamActive(kinesis, streamName);

  test('When the destination delivers one aggregate out of order and twice in a batch, and the shard is split mid-run, then events are re-sequenced, the parent is read to its end before its children, every event is published in per-aggregate order, and the ended parent’s lag series is removed', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 }));
    await active();
    const x = randomUUID();
    const y = randomUUID();
    // One PutRecords, read as one batch: x arrives 2, 1, 1 (a repeat), 3.
    await kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: [
          destinationRecord(x, 2),
          destinationRecord(y, 1),
          destinationRecord(x, 1),
          destinationRecord(x, 1),
          destinationRecord(x, 3),
        ],
      }),
    );
    relay = await start(relayTestConfig({ tables, topic }, kinesisRelayEnv(streamName, { SHARD_REFRESH_MS: '200' })));
    const port = relay.port;
    const reader = await readTopic(topic);
    try {
      const first = await reader.waitForCount(4);
      expect(first.filter((r) => r.key === x).map((r) => JSON.parse(r.value ?? '{}').seq)).toEqual([1, 2, 3]);
      const parentLag = () => scrape(port, 'relay_shard_lag_seconds', { shard_id: 'shardId-000000000000' });
      await waitFor(async () => (await parentLag()) === 0, { what: "the parent shard's lag at 0 at its tip" });
      expect(await scrape(port, 'relay_records_ignored_total', { event_name: 'DUPLICATE' })).toBe(1);

      const { StreamDescriptionSummary } = await kinesis.send(
        new DescribeStreamSummaryCommand({ StreamName: streamName }),
      );
      expect(StreamDescriptionSummary?.OpenShardCount).toBe(1);
      await kinesis.send(
        new SplitShardCommand({
          StreamName: streamName,
          ShardToSplit: 'shardId-000000000000',
          NewStartingHashKey: (2n ** 127n).toString(),
        }),
      );
      await active();
      const others = Array.from({ length: 8 }, () => randomUUID());
      for (const seq of [1, 2]) {
        await kinesis.send(
          new PutRecordsCommand({ StreamName: streamName, Records: others.map((id) => destinationRecord(id, seq)) }),
        );
      }
      await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: [destinationRecord(x, 4)] }));

      const total = 4 + 1 + others.length * 2;
      const records = await reader.waitForCount(total);
      const expected = new Map<string, number>([[x, 4], [y, 1], ...others.map((id) => [id, 2] as [string, number])]);
      const { problems, duplicates } = checkPerAggregateOrder(records, expected);
      expect(problems).toEqual([]);
      expect(duplicates).toBe(0);
      const childShards = new Set(records.slice(4).map((r) => r.headers['source-shard']));
      expect(childShards.has('shardId-000000000000')).toBe(false);
      expect([...childShards].every((id) => ['shardId-000000000001', 'shardId-000000000002'].includes(id))).toBe(true);

      const streamArn = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName })))
        .StreamDescriptionSummary?.StreamARN as string;
      const checkpoints = await new CheckpointStore({ doc, table: tables.relayState, relayName: tables.outbox }).list(
        streamArn,
      );
      expect(checkpoints.find((c) => c.shardId === 'shardId-000000000000')?.ended).toBe(true);
      // The ended parent's lag series is gone; the children read to their tip report 0.
      expect(await parentLag()).toBeUndefined();
      for (const child of ['shardId-000000000001', 'shardId-000000000002']) {
        await waitFor(async () => (await scrape(port, 'relay_shard_lag_seconds', { shard_id: child })) === 0, {
          what: `the lag of ${child} at 0 at its tip`,
        });
      }
    } finally {
      await reader.stop();
    }
  });
});
