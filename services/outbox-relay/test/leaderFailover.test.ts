import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { EVENT_HEADERS, createDynamoDbClients, createKafka, createLogger } from '@outbox/shared';
import { waitFor } from '@outbox/testkit';
import { createTestTables, createTestTopic, testEndpoints, uniqueName } from '@outbox/testkit';
import type { TestTables } from '@outbox/testkit';
import { readTopic, type ReadRecord } from '@outbox/testkit';
import { startServiceProcess, type ServiceProcess } from '@outbox/testkit';
import { CheckpointStore } from '../src/checkpoint/CheckpointStore';
import { checkPerAggregateOrder, scrape, writeOutboxEvent } from './support';

const LEASE_MS = 2000;

type TopicReader = Awaited<ReturnType<typeof readTopic>>;

describe('two relay processes, one leader', () => {
  const processes: ServiceProcess[] = [];
  const { dynamodb, kafkaBrokers, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  // One admin for the whole file: the high watermarks tell when the reader has all a topic holds.
  const admin = createKafka({
    clientId: 'failover-test',
    brokers: kafkaBrokers,
    logger: createLogger({ service: 'test', level: 'silent' }),
  }).admin();
  beforeAll(() => admin.connect());
  afterAll(async () => {
    await admin.disconnect();
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGCONT');
    await Promise.all(processes.map((p) => p.kill()));
    client.destroy();
  });

  function relayEnv(tables: TestTables, topic: string): Record<string, string> {
    return {
      DYNAMODB_ENDPOINT: dynamodb,
      KAFKA_BROKERS: kafkaBrokers.join(','),
      OUTBOX_TABLE: tables.outbox,
      RELAY_STATE_TABLE: tables.relayState,
      ORDER_EVENTS_TOPIC: topic,
      LEASE_DURATION_MS: String(LEASE_MS),
      LEASE_RENEW_INTERVAL_MS: '400',
      BATCH_SIZE: '10',
      POLL_IDLE_MAX_MS: '50',
    };
  }

  /**
   * Where the relays' checkpoints stand, per shard (through the relay's own checkpoint reader, so
   * the test does not depend on how the items are laid out).
   */
  const streamArns = new Map<string, string>();
  async function checkpointed(tables: TestTables): Promise<Map<string, bigint>> {
    if (!streamArns.has(tables.outbox)) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tables.outbox }));
      streamArns.set(tables.outbox, Table?.LatestStreamArn ?? '');
    }
    const store = new CheckpointStore({ doc, table: tables.relayState, relayName: tables.outbox });
    const positions = new Map<string, bigint>();
    for (const checkpoint of await store.list(streamArns.get(tables.outbox) ?? '')) {
      if (checkpoint.sequenceNumber !== undefined) positions.set(checkpoint.shardId, BigInt(checkpoint.sequenceNumber));
    }
    return positions;
  }

  /** Records on the topic past their shard's checkpoint: acknowledged by Kafka, not yet checkpointed. */
  function pastCheckpoint(records: ReadRecord[], positions: Map<string, bigint>): ReadRecord[] {
    return records.filter((record) => {
      const shard = record.headers[EVENT_HEADERS.sourceShard];
      const position = positions.get(shard);
      return position === undefined || BigInt(record.headers[EVENT_HEADERS.sourceSequenceNumber]) > position;
    });
  }

  /**
   * Freezes the leader (SIGSTOP) between Kafka's acknowledgement of a batch and its checkpoint:
   * freeze, look (the topic read to its end, the checkpoints), and if no record is past its
   * checkpoint thaw it and try again once more records flowed. Fails when it never lands there.
   */
  async function freezeBetweenAckAndCheckpoint(
    leader: ServiceProcess,
    reader: TopicReader,
    tables: TestTables,
    topic: string,
  ): Promise<{ frozenAt: number; unchecked: ReadRecord[] }> {
    for (let attempt = 1; attempt <= 60; attempt += 1) {
      const seen = reader.records.length;
      await waitFor(() => reader.records.length > seen, { timeoutMs: 10000, intervalMs: 1, what: 'records flowing' });
      // A look that took longer than the lease let the standby in: freezing it again would be the wrong test.
      if ((await scrape(leader.port, 'relay_leader')) !== 1) throw new Error('relay A lost the lease during a look');
      leader.child.kill('SIGSTOP');
      const frozenAt = Date.now();
      const unchecked = pastCheckpoint(await readAll(reader, topic), await checkpointed(tables));
      // Looked at twice: a request the leader sent just before the freeze has landed by the second look.
      const settled = pastCheckpoint(await readAll(reader, topic), await checkpointed(tables));
      if (unchecked.length > 0 && settled.length === unchecked.length) return { frozenAt, unchecked: settled };
      leader.child.kill('SIGCONT');
    }
    throw new Error('the leader was never frozen between an acknowledged batch and its checkpoint');
  }

  /** Everything the topic holds now, once the reader has it. */
  async function readAll(reader: TopicReader, topic: string): Promise<ReadRecord[]> {
    const offsets = await admin.fetchTopicOffsets(topic);
    const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    await waitFor(() => reader.records.length >= total, {
      timeoutMs: 10000,
      intervalMs: 2,
      what: `all ${total} records`,
    });
    return reader.records;
  }

  /** Writes every aggregate's next seq in turn until stopped; the counts written per aggregate. */
  function keepWriting(tables: TestTables, aggregates: string[]) {
    const written = new Map(aggregates.map((id) => [id, 0]));
    let stopped = false;
    const done = (async () => {
      for (let seq = 1; !stopped || seq <= 3; seq += 1) {
        for (const aggregateId of aggregates) {
          await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq });
          written.set(aggregateId, seq);
        }
      }
    })();
    return {
      written,
      stop: async () => {
        stopped = true;
        await done;
      },
    };
  }

  const distinctOf = (records: ReadRecord[]) =>
    new Set(records.map((r) => `${r.key}/${(JSON.parse(r.value ?? '{}') as { seq: number }).seq}`)).size;

  test('When the leader is SIGKILLed after Kafka acknowledged a batch but before its checkpoint, then the standby takes over within twice the lease and republishes from the checkpoint: those records come again (counted), nothing lost or reordered; a graceful stop hands over at once', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const env = relayEnv(tables, topic);
    const a = await startServiceProcess('outbox-relay', { ...env, RELAY_ID: uniqueName('relay-a') });
    processes.push(a);
    await waitFor(async () => (await scrape(a.port, 'relay_leader')) === 1, {
      timeoutMs: 20000,
      what: 'relay A to lead',
    });
    // The standby answers /readyz 200 too: standing by is its job.
    const b = await startServiceProcess('outbox-relay', { ...env, RELAY_ID: uniqueName('relay-b') });
    processes.push(b);
    expect(await scrape(b.port, 'relay_leader')).toBe(0);

    const aggregates = Array.from({ length: 30 }, () => crypto.randomUUID());
    const reader = await readTopic(topic);
    const writer = keepWriting(tables, aggregates);
    try {
      await reader.waitForCount(40);
      // The precondition the test is named for: records acknowledged by Kafka, not checkpointed.
      const { frozenAt, unchecked } = await freezeBetweenAckAndCheckpoint(a, reader, tables, topic);
      expect(unchecked.length).toBeGreaterThan(0);
      await a.kill();
      await waitFor(async () => (await scrape(b.port, 'relay_leader')) === 1, {
        timeoutMs: 4 * LEASE_MS,
        intervalMs: 25,
        what: 'relay B to take over',
      });
      const takeoverMs = Date.now() - frozenAt;
      expect(takeoverMs).toBeLessThan(2 * LEASE_MS);
      await writer.stop();

      const total = [...writer.written.values()].reduce((sum, n) => sum + n, 0);
      await waitFor(() => distinctOf(reader.records) === total, {
        timeoutMs: 30000,
        what: `all ${total} events (have ${distinctOf(reader.records)})`,
      });
      const records = await readAll(reader, topic);
      const { duplicates, problems } = checkPerAggregateOrder(records, writer.written);
      expect(problems).toEqual([]);
      expect(records.length).toBe(total + duplicates);
      // The successor started from the checkpoint: every record past it came again.
      const coordinates = (r: ReadRecord) =>
        `${r.headers[EVENT_HEADERS.sourceShard]}/${r.headers[EVENT_HEADERS.sourceSequenceNumber]}`;
      const copies = new Map<string, number>();
      for (const record of records) copies.set(coordinates(record), (copies.get(coordinates(record)) ?? 0) + 1);
      expect(unchecked.filter((record) => (copies.get(coordinates(record)) ?? 0) < 2)).toEqual([]);
      expect(duplicates).toBeGreaterThanOrEqual(unchecked.length);
      process.stderr.write(
        `failover: killed with ${unchecked.length} acknowledged record(s) past the checkpoint, takeover ${takeoverMs} ms after the freeze, ${duplicates} duplicate(s) republished\n`,
      );
      expect(await scrape(b.port, 'relay_lease_acquisitions_total')).toBe(1);

      // A graceful stop releases the lease: the next standby takes over without waiting it out.
      const c = await startServiceProcess('outbox-relay', { ...env, RELAY_ID: uniqueName('relay-c') });
      processes.push(c);
      expect(await scrape(c.port, 'relay_leader')).toBe(0);
      const stoppedAt = Date.now();
      expect(await b.stop()).toBe(0);
      await waitFor(async () => (await scrape(c.port, 'relay_leader')) === 1, {
        timeoutMs: 4 * LEASE_MS,
        intervalMs: 25,
        what: 'relay C to take over',
      });
      const handoverMs = Date.now() - stoppedAt;
      expect(handoverMs).toBeLessThan(LEASE_MS);
      process.stderr.write(`graceful handover after ${handoverMs} ms\n`);
      expect(await c.stop()).toBe(0);
    } finally {
      await writer.stop();
      await reader.stop();
    }
  }, 120000);

  test('When the leader is paused (SIGSTOP) past the lease with a batch acknowledged but not checkpointed, then the standby takes over, and once resumed (SIGCONT) the old leader steps down without moving a checkpoint or publishing any new event; nothing lost or reordered', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const env = relayEnv(tables, topic);
    const a = await startServiceProcess('outbox-relay', { ...env, RELAY_ID: uniqueName('relay-a') });
    processes.push(a);
    await waitFor(async () => (await scrape(a.port, 'relay_leader')) === 1, {
      timeoutMs: 20000,
      what: 'relay A to lead',
    });
    const b = await startServiceProcess('outbox-relay', { ...env, RELAY_ID: uniqueName('relay-b') });
    processes.push(b);

    const aggregates = Array.from({ length: 20 }, () => crypto.randomUUID());
    const reader = await readTopic(topic);
    const writer = keepWriting(tables, aggregates);
    try {
      await reader.waitForCount(40);
      // Paused with work in hand: a batch Kafka acknowledged, its checkpoint still to write.
      const { frozenAt, unchecked } = await freezeBetweenAckAndCheckpoint(a, reader, tables, topic);
      expect(unchecked.length).toBeGreaterThan(0);
      await waitFor(async () => (await scrape(b.port, 'relay_leader')) === 1, {
        timeoutMs: 4 * LEASE_MS,
        intervalMs: 25,
        what: 'relay B to take over from the paused leader',
      });
      expect(Date.now() - frozenAt).toBeLessThan(2 * LEASE_MS);

      // B drains everything written and checkpoints its tip; nothing else is written meanwhile.
      await writer.stop();
      const total = [...writer.written.values()].reduce((sum, n) => sum + n, 0);
      await waitFor(() => distinctOf(reader.records) === total, {
        timeoutMs: 30000,
        what: `all ${total} events from the new leader (have ${distinctOf(reader.records)})`,
      });
      await waitFor(async () => pastCheckpoint(await readAll(reader, topic), await checkpointed(tables)).length === 0, {
        timeoutMs: 10000,
        what: 'the new leader to checkpoint its tip',
      });
      const beforeResume = (await readAll(reader, topic)).length;
      const checkpointBeforeResume = await checkpointed(tables);

      // The old leader wakes with its batch in hand: it must find itself deposed and step down.
      a.child.kill('SIGCONT');
      await waitFor(
        async () =>
          (await scrape(a.port, 'relay_leader')) === 0 &&
          ((await scrape(a.port, 'relay_lease_losses_total')) ?? 0) >= 1,
        { timeoutMs: 4 * LEASE_MS, what: 'the resumed old leader to step down' },
      );
      expect(await checkpointed(tables)).toEqual(checkpointBeforeResume);

      // A marker written now is published by the leader. Besides it, whatever reached the topic
      // after the resume can only be the old leader's: no new event, at most a repeat of a send it
      // had in flight when paused (kafkajs retries it once its request timeout passed; without
      // KAFKA_TRANSACTIONAL_ID nothing in Kafka fences a deposed producer).
      const marker = await writeOutboxEvent(doc, tables.outbox, { seq: 1 });
      await waitFor(() => reader.records.some((r) => r.key === marker.aggregateId), {
        timeoutMs: 15000,
        what: 'the marker event on the topic',
      });
      const records = await readAll(reader, topic);
      const eventIdOf = (r: ReadRecord) => (JSON.parse(r.value ?? '{}') as { eventId: string }).eventId;
      const known = new Set(records.slice(0, beforeResume).map(eventIdOf));
      const late = records.slice(beforeResume).filter((r) => r.key !== marker.aggregateId);
      expect(records.slice(beforeResume).filter((r) => r.key === marker.aggregateId)).toHaveLength(1);
      expect(late.filter((r) => !known.has(eventIdOf(r)))).toEqual([]);
      const after = await checkpointed(tables);
      for (const [shard, position] of checkpointBeforeResume)
        expect(after.get(shard) ?? 0n).toBeGreaterThanOrEqual(position);
      expect(await scrape(b.port, 'relay_leader')).toBe(1);
      expect(await scrape(a.port, 'relay_leader')).toBe(0);

      const { problems } = checkPerAggregateOrder(records, new Map([...writer.written, [marker.aggregateId, 1]]));
      expect(problems).toEqual([]);
      process.stderr.write(
        `paused leader: ${unchecked.length} acknowledged record(s) past the checkpoint at the pause; resumed and stepped down with no checkpoint and no new event (${late.length} repeat(s) of its in-flight send)\n`,
      );
    } finally {
      a.child.kill('SIGCONT');
      await writer.stop();
      await reader.stop();
    }
  }, 120000);
});
