import { createDynamoDbClients } from '@outbox/shared';
import {
  createTestTables,
  createTestTopic,
  readTopic,
  type ServiceProcess,
  startServiceProcess,
  testEndpoints,
  uniqueName,
  waitFor,
} from '@outbox/testkit';
import { checkPerAggregateOrder, metricValue, scrape, writeOutboxEvent } from './support';

const LEASE_MS = 2000;

describe('two relay processes, one lease', () => {
  const processes: ServiceProcess[] = [];
  const { dynamodb, kafkaBrokers, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    client.destroy();
  });

  test('When the leader is killed with SIGKILL while records flow, then the standby takes over within twice the lease duration, every event reaches the topic in per-aggregate order, and a graceful stop hands the lease over at once', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const env = {
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
    const seqsPerAggregate = 5;
    const reader = await readTopic(topic);
    try {
      // Per aggregate in seq order, aggregates interleaved, while the relays run.
      const writing = (async () => {
        for (let seq = 1; seq <= seqsPerAggregate; seq += 1) {
          for (const aggregateId of aggregates) await writeOutboxEvent(doc, tables.outbox, { aggregateId, seq });
        }
      })();
      await reader.waitForCount(40);
      // Aim the kill between reading a batch and Kafka acknowledging it (read ahead of published).
      const midBatch = await waitFor(
        async () => {
          const text = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
          return (
            (metricValue(text, 'relay_records_read_total') ?? 0) >
            (metricValue(text, 'relay_records_published_total') ?? 0)
          );
        },
        { timeoutMs: 10000, intervalMs: 1, what: 'relay A to be mid-batch' },
      ).catch(() => false);
      await a.kill();
      const killedAt = Date.now();
      await waitFor(async () => (await scrape(b.port, 'relay_leader')) === 1, {
        timeoutMs: 4 * LEASE_MS,
        intervalMs: 25,
        what: 'relay B to take over',
      });
      const takeoverMs = Date.now() - killedAt;
      expect(takeoverMs).toBeLessThan(2 * LEASE_MS);
      await writing;

      const total = aggregates.length * seqsPerAggregate;
      const distinct = () => new Set(reader.records.map((r) => `${r.key}/${JSON.parse(r.value ?? '{}').seq}`)).size;
      await waitFor(() => distinct() === total, { timeoutMs: 30000, what: `all ${total} events (have ${distinct()})` });
      const records = await reader.readToEnd();
      const { duplicates, problems } = checkPerAggregateOrder(
        records,
        new Map(aggregates.map((id) => [id, seqsPerAggregate])),
      );
      expect(problems).toEqual([]);
      expect(records.length).toBe(total + duplicates);
      process.stderr.write(
        `failover: killed ${midBatch ? 'mid-batch' : 'between batches'}, takeover after ${takeoverMs} ms, ${duplicates} duplicate(s) republished\n`,
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
      await reader.stop();
    }
  });
});
