import { randomUUID } from 'node:crypto';
import { CreateStreamCommand, DeleteStreamCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { createKinesisClient } from '@outbox/shared';
import { createTestTables, createTestTopic, readTopic, testEndpoints, uniqueName, waitFor } from '@outbox/testkit';
import type { ChangeSource } from '../src/source/StreamShard';
import { start, type RelayHandle } from '../src/start';
import {
  checkPerAggregateOrder,
  destinationRecord,
  kinesisRelayEnv,
  relayTestConfig,
  scrape,
  streamActive,
} from './support';

describe('the records an instance holds across the shards it leads (kinesalite, 4 shards)', () => {
  const { kinesis: kinesisEndpoint, region } = testEndpoints();
  const kinesis = createKinesisClient({ region, endpoint: kinesisEndpoint });
  const streamName = uniqueName('outbox-budget');
  let relay: RelayHandle | undefined;
  afterAll(async () => {
    await relay?.stop();
    await kinesis.send(new DeleteStreamCommand({ StreamName: streamName })).catch(() => undefined);
    kinesis.destroy();
  });

  test('When one relay leads 4 shards, each with a batch read ahead, with BATCH_SIZE 100 and RELAY_MAX_RECORDS_IN_FLIGHT 400, then every read asks for 50 (400 over 8 batches), no batch holds more, and every event arrives once in per-aggregate order', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 4 }));
    await streamActive(kinesis, streamName);
    // Every read that reaches the stream: what it asked for and what it got.
    const reads: { shardId: string; limit: number; records: number }[] = [];
    const wrapSource = (source: ChangeSource): ChangeSource =>
      Object.assign(Object.create(source) as ChangeSource, {
        read: async (shardId: string, iterator: string, limit: number) => {
          const batch = await source.read(shardId, iterator, limit);
          reads.push({ shardId, limit, records: batch.records.length });
          return batch;
        },
      });
    relay = await start(
      relayTestConfig(
        { tables, topic },
        kinesisRelayEnv(streamName, {
          BATCH_SIZE: '100',
          RELAY_MAX_RECORDS_IN_FLIGHT: '400',
          RELAY_READ_AHEAD_SHARDS: '4',
        }),
      ),
      { wrapSource },
    );
    const port = relay.port;
    await waitFor(async () => (await scrape(port, 'relay_shards_owned')) === 4, {
      timeoutMs: 20000,
      what: 'the relay to lead all 4 shards',
    });
    reads.length = 0;

    // 3 events each for 160 aggregates, spread over the shards by their partition keys.
    const aggregates = Array.from({ length: 160 }, () => randomUUID());
    const reader = await readTopic(topic);
    try {
      // One PutRecords (480 ≤ its 500): about 120 records per shard at once, more than a read may take.
      await kinesis.send(
        new PutRecordsCommand({
          StreamName: streamName,
          Records: [1, 2, 3].flatMap((seq) => aggregates.map((id) => destinationRecord(id, seq))),
        }),
      );
      const records = await reader.waitForCount(aggregates.length * 3);
      expect(checkPerAggregateOrder(records, new Map(aggregates.map((id) => [id, 3])))).toEqual({
        duplicates: 0,
        problems: [],
      });
      const busy = reads.filter((read) => read.records > 0);
      expect(new Set(busy.map((read) => read.shardId)).size).toBe(4);
      expect(new Set(reads.map((read) => read.limit))).toEqual(new Set([50]));
      expect(Math.max(...busy.map((read) => read.records))).toBe(50);
    } finally {
      await reader.stop();
    }
  }, 60000);
});
