import { randomUUID } from 'node:crypto';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClients, createKinesisClient } from '@outbox/shared';
import { waitFor } from '@outbox/testkit';
import { createTestTables, createTestTopic, testEndpoints, uniqueName } from '@outbox/testkit';
import { readTopic } from '@outbox/testkit';
import { startServiceProcess, type ServiceProcess } from '@outbox/testkit';
import {
  checkPerAggregateOrder,
  destinationRecord,
  kinesisRelayEnv,
  metricValue,
  writeOutboxEvent,
  streamActive,
} from './support';

/** The default lease duration (LEASE_DURATION_MS): the relays below run with the defaults. */
const LEASE_MS = 2000;

/** What one relay process says about its leases: how many it holds, and which shards it reports lag for. */
async function leasesOf(relay: ServiceProcess): Promise<{ owned: number; shards: Set<string> }> {
  const text = await (await fetch(`http://127.0.0.1:${relay.port}/metrics`)).text();
  const shards = new Set<string>();
  for (const match of text.matchAll(/^relay_shard_lag_seconds\{[^}]*shard_id="([^"]+)"/gm)) shards.add(match[1]);
  return { owned: metricValue(text, 'relay_shards_owned') ?? 0, shards };
}

describe('relay processes sharing the shards (per-shard leases, kinesalite)', () => {
  const { dynamodb, kafkaBrokers, kinesis: kinesisEndpoint, region } = testEndpoints();
  const kinesis = createKinesisClient({ region, endpoint: kinesisEndpoint });
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  const processes: ServiceProcess[] = [];
  const streams: string[] = [];
  /** Deletes a stream and waits until it is gone: kinesalite counts every shard of the account against a limit of 10. */
  const deleteStream = async (name: string) => {
    await kinesis.send(new DeleteStreamCommand({ StreamName: name })).catch(() => undefined);
    await waitFor(
      () =>
        kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name })).then(
          () => false,
          () => true,
        ),
      { what: `${name} to be deleted` },
    );
  };
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    for (const name of streams) await deleteStream(name);
    kinesis.destroy();
    client.destroy();
  });

  const createStream = async (shards: number) => {
    const name = uniqueName('outbox-scale');
    streams.push(name);
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
    await active(name);
    return name;
  };
  const active = (name: string) => streamActive(kinesis, name);
  /** Writes seq `seq` of every aggregate, in PutRecords calls of 100. */
  const writeRound = async (name: string, aggregates: string[], seq: number) => {
    for (let i = 0; i < aggregates.length; i += 100) {
      await kinesis.send(
        new PutRecordsCommand({
          StreamName: name,
          Records: aggregates.slice(i, i + 100).map((id) => destinationRecord(id, seq)),
        }),
      );
    }
  };
  const envFor = async (streamName: string) => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    return {
      topic,
      tables,
      env: {
        DYNAMODB_ENDPOINT: dynamodb,
        KAFKA_BROKERS: kafkaBrokers.join(','),
        OUTBOX_TABLE: tables.outbox,
        RELAY_STATE_TABLE: tables.relayState,
        ORDER_EVENTS_TOPIC: topic,
        ...kinesisRelayEnv(streamName, { SHARD_REFRESH_MS: '500', BATCH_SIZE: '20' }),
      },
    };
  };
  const startRelay = async (env: Record<string, string>, name: string) => {
    const relay = await startServiceProcess('outbox-relay', { ...env, RELAY_ID: uniqueName(name) });
    processes.push(relay);
    return relay;
  };

  test('When three relay processes share a Kinesis stream of 8 shards, then a lone relay leads all 8, the three spread them (each leads at least one, none is led twice), a SIGKILLed relay’s shards are led by the others within twice the lease, and every event reaches the topic in per-aggregate order', async () => {
    const streamName = await createStream(8);
    const { env, topic } = await envFor(streamName);
    const aggregates = Array.from({ length: 120 }, () => randomUUID());
    const seqs = 6;
    const reader = await readTopic(topic);
    try {
      await writeRound(streamName, aggregates, 1);
      const a = await startRelay(env, 'relay-a');
      await waitFor(async () => (await leasesOf(a)).owned === 8, {
        timeoutMs: 60_000,
        what: 'the lone relay to lead all 8 shards',
      });

      const b = await startRelay(env, 'relay-b');
      const c = await startRelay(env, 'relay-c');
      const relays = [a, b, c];
      // Spread: each leads at least one, the counts add up to 8, and no shard is reported twice.
      const spread = async () => {
        const views = await Promise.all(relays.map(leasesOf));
        const reported = views.flatMap((view) => [...view.shards]);
        return (
          views.every((view) => view.owned >= 1) &&
          views.reduce((sum, view) => sum + view.owned, 0) === 8 &&
          reported.length === 8 &&
          new Set(reported).size === 8
        );
      };
      await waitFor(spread, { timeoutMs: 60_000, intervalMs: 200, what: 'the 8 shards spread over 3 relays' });
      const views = await Promise.all(relays.map(leasesOf));
      process.stderr.write(`scale-out: shards per relay ${views.map((view) => view.owned).join(', ')}\n`);

      // Events keep flowing while the relay leading the most shards is killed.
      const writing = (async () => {
        for (let seq = 2; seq <= seqs; seq += 1) await writeRound(streamName, aggregates, seq);
      })();
      await reader.waitForCount(aggregates.length + 50, 30_000);
      const victimIndex = views.findIndex((view) => view.owned === Math.max(...views.map((v) => v.owned)));
      const victim = relays[victimIndex] as ServiceProcess;
      const survivors = relays.filter((relay) => relay !== victim);
      const orphaned = views[victimIndex]?.shards ?? new Set<string>();
      await victim.kill();
      const killedAt = Date.now();
      await waitFor(
        async () => {
          const after = await Promise.all(survivors.map(leasesOf));
          const led = new Set(after.flatMap((view) => [...view.shards]));
          return after.reduce((sum, view) => sum + view.owned, 0) === 8 && [...orphaned].every((id) => led.has(id));
        },
        { timeoutMs: 8 * LEASE_MS, intervalMs: 50, what: 'the killed relay’s shards to be led by the others' },
      );
      const takeoverMs = Date.now() - killedAt;
      process.stderr.write(
        `scale-out: ${orphaned.size} shard(s) of the killed relay led again after ${takeoverMs} ms\n`,
      );
      expect(takeoverMs).toBeLessThan(2 * LEASE_MS);
      await writing;

      const total = aggregates.length * seqs;
      const distinct = () => new Set(reader.records.map((r) => `${r.key}/${JSON.parse(r.value ?? '{}').seq}`)).size;
      await waitFor(() => distinct() === total, {
        timeoutMs: 60_000,
        what: `all ${total} events (have ${distinct()})`,
      });
      const records = await reader.readToEnd();
      const { problems } = checkPerAggregateOrder(records, new Map(aggregates.map((id) => [id, seqs])));
      expect(problems).toEqual([]);
      const sources = new Set(records.map((r) => r.headers['source-shard']));
      expect(sources.size).toBe(8);
    } finally {
      await reader.stop();
      await Promise.all(processes.splice(0).map((p) => p.kill()));
      await deleteStream(streamName);
    }
  }, 180_000);

  test('When a shard with a backlog is split before three relays start, then no relay reads a child before the parent ended (the children are leased only after the parent’s end was stored) and every aggregate’s events reach the topic in seq order', async () => {
    const streamName = await createStream(2);
    const { env, topic, tables } = await envFor(streamName);
    const aggregates = Array.from({ length: 60 }, () => randomUUID());
    const reader = await readTopic(topic);
    try {
      // A backlog in the parents, then the split, then more events of the same aggregates in the children.
      for (const seq of [1, 2, 3]) await writeRound(streamName, aggregates, seq);
      await kinesis.send(
        new SplitShardCommand({
          StreamName: streamName,
          ShardToSplit: 'shardId-000000000000',
          NewStartingHashKey: (2n ** 126n).toString(),
        }),
      );
      await active(streamName);
      for (const seq of [4, 5]) await writeRound(streamName, aggregates, seq);

      const relays = [
        await startRelay({ ...env, BATCH_SIZE: '5' }, 'relay-a'),
        await startRelay({ ...env, BATCH_SIZE: '5' }, 'relay-b'),
        await startRelay({ ...env, BATCH_SIZE: '5' }, 'relay-c'),
      ];
      const total = aggregates.length * 5;
      const distinct = () => new Set(reader.records.map((r) => `${r.key}/${JSON.parse(r.value ?? '{}').seq}`)).size;
      await waitFor(() => distinct() === total, {
        timeoutMs: 90_000,
        what: `all ${total} events (have ${distinct()})`,
      });
      const records = await reader.readToEnd();
      const { problems } = checkPerAggregateOrder(records, new Map(aggregates.map((id) => [id, 5])));
      expect(problems).toEqual([]);
      const children = ['shardId-000000000002', 'shardId-000000000003'];
      const sources = new Set(records.map((r) => r.headers['source-shard']));
      for (const child of children) expect(sources.has(child)).toBe(true);

      // The lease items say the same: the parent ended, and each child was leased only after that.
      const { Items = [] } = await doc.send(
        new ScanCommand({
          TableName: tables.relayState,
          FilterExpression: 'begins_with(sk, :shard)',
          ExpressionAttributeValues: { ':shard': 'SHARD#' },
          ConsistentRead: true,
        }),
      );
      const byShard = new Map(Items.map((item) => [String(item.shardId), item]));
      const parent = byShard.get('shardId-000000000000');
      expect(parent?.ended).toBe(true);
      for (const child of children) {
        const item = byShard.get(child);
        expect(item?.parentShardId).toBe('shardId-000000000000');
        expect(Date.parse(String(item?.acquiredAt))).toBeGreaterThanOrEqual(Date.parse(String(parent?.updatedAt)));
      }
      const owners = new Set(Items.map((item) => item.leaseOwner).filter((owner) => owner !== undefined));
      process.stderr.write(`split: lease owners at the end ${owners.size} of ${relays.length} relays\n`);
    } finally {
      await reader.stop();
    }
  }, 150_000);
});

describe('relay processes on DynamoDB Streams (one shard)', () => {
  const { dynamodb, kafkaBrokers, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  const processes: ServiceProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    client.destroy();
  });

  test('When two relays run with the default lease timings, then one leads the shard and the other stands by; when the leader is paused (SIGSTOP) past its lease, the other takes over, and once resumed the paused one finds itself fenced and publishes nothing more', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const env = {
      DYNAMODB_ENDPOINT: dynamodb,
      KAFKA_BROKERS: kafkaBrokers.join(','),
      OUTBOX_TABLE: tables.outbox,
      RELAY_STATE_TABLE: tables.relayState,
      ORDER_EVENTS_TOPIC: topic,
      POLL_IDLE_MAX_MS: '50',
    };
    const a = await startServiceProcess('outbox-relay', { ...env, RELAY_ID: uniqueName('relay-a') });
    processes.push(a);
    await waitFor(async () => (await leasesOf(a)).owned === 1, {
      timeoutMs: 20_000,
      what: 'relay A to lead the shard',
    });
    const b = await startServiceProcess('outbox-relay', { ...env, RELAY_ID: uniqueName('relay-b') });
    processes.push(b);
    const reader = await readTopic(topic);
    const seqs = () => new Set(reader.records.map((r) => (JSON.parse(r.value ?? '{}') as { seq: number }).seq));
    try {
      const first = await writeOutboxEvent(doc, tables.outbox, { seq: 1 });
      await reader.waitForCount(1, 20_000);
      // Let the coalesced checkpoint be stored (RELAY_CHECKPOINT_INTERVAL_MS), so the pause cuts no batch short.
      await waitFor(
        async () =>
          (metricValue(
            await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text(),
            'relay_checkpoint_writes_total',
            {
              outcome: 'ok',
            },
          ) ?? 0) >= 1,
        { what: 'relay A to store its checkpoint' },
      );
      expect((await leasesOf(a)).owned).toBe(1);
      expect((await leasesOf(b)).owned).toBe(0);
      const publishedByA = async () =>
        metricValue(await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text(), 'relay_records_published_total');
      const beforePause = await publishedByA();

      a.child.kill('SIGSTOP');
      try {
        await waitFor(async () => (await leasesOf(b)).owned === 1, {
          timeoutMs: 8 * LEASE_MS,
          intervalMs: 50,
          what: 'relay B to take the shard from the paused relay',
        });
        await writeOutboxEvent(doc, tables.outbox, { aggregateId: first.aggregateId, seq: 2 });
        await waitFor(() => seqs().has(2), { timeoutMs: 20_000, what: 'seq 2 published by relay B' });
      } finally {
        a.child.kill('SIGCONT');
      }
      // Resumed: its lease lapsed on its own clock, its renewal is refused, it publishes nothing.
      await waitFor(async () => (await leasesOf(a)).owned === 0, {
        timeoutMs: 4 * LEASE_MS,
        what: 'relay A to let go',
      });
      await writeOutboxEvent(doc, tables.outbox, { aggregateId: first.aggregateId, seq: 3 });
      await waitFor(() => seqs().has(3), { timeoutMs: 20_000, what: 'seq 3 published by relay B' });
      const records = await reader.readToEnd();
      expect(await publishedByA()).toBe(beforePause);
      const { problems } = checkPerAggregateOrder(records, new Map([[first.aggregateId, 3]]));
      expect(problems).toEqual([]);
      expect((await leasesOf(b)).owned).toBe(1);
    } finally {
      await reader.stop();
    }
  }, 90_000);
});
