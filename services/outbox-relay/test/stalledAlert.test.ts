import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { createDynamoDbClients, topicDefinitions } from '@outbox/shared';
import { KafkaServer, ensureTopics } from '@outbox/local-stack';
import { start, type RelayHandle } from '../src/start';
import { relayTestConfig, scrape, writeOutboxEvent } from './support';
import {
  createTestTables,
  freePort,
  type PrometheusServer,
  startPrometheus,
  testEndpoints,
  uniqueName,
  waitFor,
} from '@outbox/testkit';

const repoRoot = join(__dirname, '..', '..', '..');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
}

/**
 * A test-only copy of the real RelayStalled rule from ops/prometheus/alerts.yml with test-sized
 * durations: no progress for 3 s instead of 120 s, lag looked at over 30 s instead of 2 m, and
 * `for: 10m` so the alert stays pending while the test looks. The expression is otherwise the real
 * one; a change to it that the substitutions no longer match fails here.
 */
function testRelayStalledRule(): Rule {
  const rules = parse(readFileSync(join(repoRoot, 'ops', 'prometheus', 'alerts.yml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  };
  const real = rules.groups.flatMap((group) => group.rules).find((rule) => rule.alert === 'RelayStalled');
  if (!real) throw new Error('ops/prometheus/alerts.yml has no RelayStalled rule');
  const expr = real.expr.replace('> 120', '> 3').replace('[2m]', '[30s]');
  expect(expr).not.toEqual(real.expr.replace('[2m]', '[30s]'));
  expect(expr).not.toEqual(real.expr.replace('> 120', '> 3'));
  return { ...real, expr, for: '10m' };
}

describe('the RelayStalled alert on a real Prometheus (a Kafka of its own, stopped and restarted)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'alert-kafka-'));
  const ruleDir = mkdtempSync(join(tmpdir(), 'alert-rules-'));
  const { dynamodb, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  let kafka: KafkaServer;
  let relay: RelayHandle | undefined;
  let prometheus: PrometheusServer | undefined;

  beforeAll(async () => {
    kafka = new KafkaServer({ port: await freePort(), controllerPort: await freePort(), dataDir, stopGraceMs: 10000 });
    await kafka.start();
  }, 120000);
  afterAll(async () => {
    await prometheus?.stop();
    await relay?.stop();
    await kafka.stop();
    client.destroy();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(ruleDir, { recursive: true, force: true });
  }, 60000);

  test('When Kafka stops while records are pending, then RelayStalled (test durations) becomes pending on Prometheus, and it clears once Kafka is back and the relay caught up', async () => {
    const tables = await createTestTables();
    const topic = uniqueName('orders');
    await ensureTopics({ brokers: kafka.brokers, definitions: topicDefinitions({ topic }) });
    relay = await start(
      relayTestConfig(
        { tables, topic, brokers: kafka.brokers },
        {
          PUBLISH_RETRY_INITIAL_MS: '50',
          PUBLISH_RETRY_MAX_MS: '500',
          POLL_IDLE_MAX_MS: '50',
          RELAY_STALL_TIMEOUT_MS: '300000',
        },
      ),
    );
    const port = relay.port;
    await writeOutboxEvent(doc, tables.outbox, { seq: 1 });
    await waitFor(async () => (await scrape(port, 'relay_records_published_total')) === 1, {
      timeoutMs: 30000,
      what: 'the first event published',
    });

    const ruleFile = join(ruleDir, 'relay-stalled.test-rules.yml');
    writeFileSync(ruleFile, stringify({ groups: [{ name: 'relay-stalled-test', rules: [testRelayStalledRule()] }] }));
    prometheus = await startPrometheus({
      intervalSeconds: 1,
      targets: { 'outbox-relay': `127.0.0.1:${port}` },
      onlyTheseTargets: true,
      ruleFiles: [ruleFile],
    });
    const server = prometheus;
    const relayStalled = async () => {
      const { alerts } = await server.api<{ alerts: { labels: { alertname: string }; state: string }[] }>('alerts');
      return alerts.filter((alert) => alert.labels.alertname === 'RelayStalled').map((alert) => alert.state);
    };
    const lagSeries = async () =>
      (await server.api<{ result: { value: [number, string] }[] }>('query', { query: 'relay_shard_lag_seconds' }))
        .result;
    // Caught up: scraped lag 0 and progress moving, so the rule evaluates and stays quiet.
    await waitFor(async () => (await lagSeries()).some((series) => series.value[1] === '0'), {
      timeoutMs: 30000,
      what: 'Prometheus to scrape the lag at 0',
    });
    expect(await relayStalled()).toEqual([]);

    await kafka.stop();
    await writeOutboxEvent(doc, tables.outbox, { seq: 1 });
    await waitFor(async () => (await relayStalled()).includes('pending'), {
      timeoutMs: 60000,
      intervalMs: 500,
      what: 'RelayStalled to become pending while Kafka is down',
    });

    await kafka.start();
    await waitFor(async () => (await scrape(port, 'relay_records_published_total')) === 2, {
      timeoutMs: 60000,
      what: 'the pending event published after the restart',
    });
    await waitFor(async () => (await relayStalled()).length === 0, {
      timeoutMs: 30000,
      intervalMs: 500,
      what: 'RelayStalled to clear once the relay made progress',
    });
  }, 240000);
});
