import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigResourceTypes } from 'kafkajs';
import { KafkaServer, createTestCertificates, type TestCertificates } from '@outbox/local-stack';
import { createKafka, createLogger, deadLetterTopicFor, type KafkaSecurity } from '@outbox/shared';
import {
  createTestTables,
  freePort,
  scanAll,
  type ServiceProcess,
  startServiceProcess,
  testEndpoints,
  type TestTables,
  uniqueName,
  waitFor,
  postOrder,
} from '@outbox/testkit';

const repoRoot = join(__dirname, '..', '..');
const silent = createLogger({ service: 'test', level: 'silent' });
const users = {
  relay: { username: 'outbox-relay', password: 'relay-scram-pw' },
  notifier: { username: 'notifier', password: 'notifier-scram-pw' },
};

/** Runs a built entry point until it exits (or the deadline passes); returns its exit code, stdout and all output. */
function runToExit(entry: string, env: Record<string, string>, args: string[] = [], timeoutMs = 60_000) {
  const child = spawn(process.execPath, [join(repoRoot, entry), ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout.push(chunk.toString());
    output.push(chunk.toString());
  });
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  return new Promise<{ code: number | null; stdout: string; output: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} still running after ${timeoutMs} ms:\n${output.join('')}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: stdout.join(''), output: output.join('') });
    });
  });
}

describe('Kafka security: a broker of its own with SSL and SASL_SSL (SCRAM-SHA-512) listeners', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kafka-sec-'));
  let kafka: KafkaServer;
  let certs: TestCertificates;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    certs = await createTestCertificates({ dir: join(dataDir, 'certs') });
    kafka = new KafkaServer({
      port: await freePort(),
      controllerPort: await freePort(),
      dataDir,
      tls: {
        keyStorePemFile: certs.keyStorePemFile,
        sslPort: await freePort(),
        saslSslPort: await freePort(),
        scramUsers: [users.relay, users.notifier],
        oauthBearerUnsecured: true,
        // Sessions end with their token, as on MSK: clients must re-authenticate.
        connectionsMaxReauthMs: 3_600_000,
      },
    });
    await kafka.start();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await kafka?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  function serviceEnv(tables: TestTables, topic: string): Record<string, string> {
    return {
      DYNAMODB_ENDPOINT: testEndpoints().dynamodb,
      ORDERS_TABLE: tables.orders,
      OUTBOX_TABLE: tables.outbox,
      RELAY_STATE_TABLE: tables.relayState,
      NOTIFICATIONS_TABLE: tables.notifications,
      ORDER_EVENTS_TOPIC: topic,
      NOTIFIER_GROUP_ID: uniqueName('notifier'),
      KAFKA_BROKERS: kafka.saslSslBrokers.join(','),
      KAFKA_SECURITY: 'sasl-scram-sha-512',
      KAFKA_TLS_CA_FILE: certs.caFile,
    };
  }

  test('When the relay and the notifier reach Kafka only over SASL_SSL with SCRAM credentials from a secret, then they create the topics at start, and an order reaches a notification', async () => {
    const tables = await createTestTables();
    const topic = uniqueName('secure-orders');
    const env = serviceEnv(tables, topic);
    const ensure = { KAFKA_ENSURE_TOPICS: 'true', KAFKA_TOPIC_MIN_INSYNC_REPLICAS: '1' };
    // The relay gets one JSON secret (MSK's format), the notifier two variables.
    const relay = await startServiceProcess('outbox-relay', {
      ...env,
      ...ensure,
      KAFKA_SASL_SECRET: JSON.stringify(users.relay),
    });
    processes.push(relay);
    const notifier = await startServiceProcess('notifier', {
      ...env,
      ...ensure,
      KAFKA_SASL_USERNAME: users.notifier.username,
      KAFKA_SASL_PASSWORD: users.notifier.password,
    });
    processes.push(notifier);
    const api = await startServiceProcess('order-api', {
      DYNAMODB_ENDPOINT: env.DYNAMODB_ENDPOINT,
      ...tablesEnv(tables),
    });
    processes.push(api);

    const placed = await postOrder(api.port, { items: [{ productId: 'sku-1', quantity: 1, price: 9.99 }] });
    expect(placed.status).toBe(201);
    const { orderId } = (await placed.json()) as { orderId: string };

    const notification = await waitFor(
      async () => (await scanAll(tables.notifications)).find((item) => item.orderId === orderId),
      { timeoutMs: 45_000, what: 'the notification of the order' },
    );
    expect(notification).toMatchObject({ kind: 'order_confirmation', seq: 1 });

    // The topics the services created at start carry the definition's settings.
    const admin = createKafka({ clientId: 'check', brokers: kafka.brokers, logger: silent }).admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic, deadLetterTopicFor(topic)] });
      expect(metadata.topics.map((t) => t.partitions.length)).toEqual([3, 3]);
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] }],
      });
      expect(resources[0].configEntries[0]).toMatchObject({ configValue: '1', isDefault: false });
    } finally {
      await admin.disconnect();
    }

    // The redrive CLI takes the same settings.
    const redrive = await runToExit(
      'services/notifier/dist/redrive/redriveCli.js',
      { ...env, KAFKA_SASL_SECRET: JSON.stringify(users.notifier), LOG_LEVEL: 'silent' },
      ['--dry-run', '--timeout-ms', '20000'],
    );
    expect({ code: redrive.code, output: redrive.code === 0 ? '' : redrive.output }).toEqual({ code: 0, output: '' });
    expect(JSON.parse(redrive.stdout)).toMatchObject({ dryRun: true, from: deadLetterTopicFor(topic), moved: 0 });

    expect(await Promise.all([relay.stop(), notifier.stop(), api.stop()])).toEqual([0, 0, 0]);
  }, 120_000);

  test('When the relay or the notifier starts with a wrong SCRAM password, then it exits non-zero with an error naming the broker and the refused authentication, never the password', async () => {
    const tables = await createTestTables();
    const env = { ...serviceEnv(tables, uniqueName('secure-orders')), KAFKA_SASL_USERNAME: 'outbox-relay' };
    const wrong = { KAFKA_SASL_PASSWORD: 'not-the-password' };

    const [relay, notifier] = await Promise.all([
      runToExit('services/outbox-relay/dist/main.js', { ...env, ...wrong }),
      runToExit('services/notifier/dist/main.js', { ...env, ...wrong, KAFKA_ENSURE_TOPICS: 'true' }),
    ]);

    const broker = kafka.saslSslBrokers[0];
    for (const [name, run] of [
      ['outbox-relay', relay],
      ['notifier', notifier],
    ] as const) {
      expect(run.code).toBe(1);
      expect(run.output).toContain(
        `${name} failed to start: Kafka at ${broker} (SASL_SSL, SCRAM-SHA-512 as user "outbox-relay") refused authentication`,
      );
      expect(run.output).toMatch(/invalid credentials/);
      expect(run.output).not.toContain('not-the-password');
    }
  }, 90_000);

  test('When TLS without SASL is chosen, then a client trusting the test CA produces and consumes, and one without it fails naming the broker and the untrusted certificate', async () => {
    const topic = uniqueName('tls-orders');
    const security: KafkaSecurity = { mode: 'tls', caFile: certs.caFile };
    const client = createKafka({ clientId: 'tls-test', brokers: kafka.sslBrokers, security, logger: silent });
    const admin = client.admin();
    const producer = client.producer();
    const consumer = client.consumer({ groupId: uniqueName('tls') });
    await Promise.all([admin.connect(), producer.connect(), consumer.connect()]);
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      await producer.send({ topic, messages: [{ key: 'k', value: 'over TLS' }] });
      const received: string[] = [];
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void received.push(String(message.value)) });
      await waitFor(() => received.length === 1, { timeoutMs: 20_000, what: 'the record over TLS' });
      expect(received).toEqual(['over TLS']);
    } finally {
      await Promise.all([admin.disconnect(), producer.disconnect(), consumer.disconnect()]);
    }

    const untrusting = createKafka({
      clientId: 'tls-test',
      brokers: kafka.sslBrokers,
      security: { mode: 'tls' },
      logger: silent,
      retry: { retries: 0 },
    }).admin();
    const error = await untrusting.connect().catch((caught: unknown) => caught);
    await untrusting.disconnect();
    expect(error).toMatchObject({
      code: 'kafka.connect_failed',
      message: `cannot connect to Kafka at ${kafka.sslBrokers[0]} (SSL): Connection error: self-signed certificate in certificate chain`,
      // Setup no wait can fix: services fail their start instead of waiting as standbys.
      retriable: false,
    });
  }, 60_000);

  test('When MSK IAM mode runs against sessions that end with their token (unsecured OAUTHBEARER standing in for MSK, injected signer), then the producer keeps writing past the expiry of its first token, each re-authentication with a fresh token', async () => {
    const topic = uniqueName('iam-orders');
    const lifetimeMs = 12_000;
    const signedAt: number[] = [];
    const jwtPart = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const client = createKafka({
      clientId: 'iam-test',
      brokers: kafka.saslSslBrokers,
      security: { mode: 'sasl-iam', caFile: certs.caFile, region: 'local-1' },
      logger: silent,
      iamTokens: {
        credentials: async () => ({ accessKeyId: 'outbox-relay', secretAccessKey: 'unused' }),
        // An unsigned JWT the broker's unsecured validator accepts, in place of the MSK signature.
        sign: async ({ credentials }) => {
          const now = Date.now();
          signedAt.push(now);
          const claims = { sub: credentials.accessKeyId, iat: now / 1000, exp: (now + lifetimeMs) / 1000 };
          return { token: `${jwtPart({ alg: 'none' })}.${jwtPart(claims)}.`, expiryTime: now + lifetimeMs };
        },
        // kafkajs re-authenticates 10 s before a session ends; the token must be younger than that.
        refreshBeforeExpiryMs: 11_000,
      },
    });
    const admin = client.admin();
    const producer = client.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      const started = Date.now();
      let sent = 0;
      // One and a half token lifetimes: the first token expired well before the last write.
      while (Date.now() - started < 1.5 * lifetimeMs) {
        await producer.send({ topic, messages: [{ value: String(sent) }] });
        sent += 1;
        await waitFor(() => Date.now() - started >= sent * 500, { timeoutMs: 1000, intervalMs: 50, what: 'the pace' });
      }
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(Number(offsets[0].high)).toBe(sent);
      expect(signedAt.length).toBeGreaterThanOrEqual(4);
      expect(signedAt.at(-1)! - started).toBeGreaterThan(lifetimeMs);
    } finally {
      await Promise.all([admin.disconnect(), producer.disconnect()]);
    }
  }, 60_000);

  test('When MSK IAM mode cannot get credentials, then connecting fails with kafka.iam_token_failed naming the broker and the cause', async () => {
    const admin = createKafka({
      clientId: 'iam-test',
      brokers: kafka.saslSslBrokers,
      security: { mode: 'sasl-iam', caFile: certs.caFile, region: 'local-1' },
      logger: silent,
      retry: { retries: 0 },
      iamTokens: {
        credentials: async () => {
          throw new Error('Could not load credentials from any providers');
        },
      },
    }).admin();

    const error = await admin.connect().catch((caught: unknown) => caught);
    await admin.disconnect();

    expect(error).toMatchObject({
      code: 'kafka.iam_token_failed',
      message: `Kafka at ${kafka.saslSslBrokers[0]} (SASL_SSL, AWS MSK IAM (OAUTHBEARER) in local-1): could not sign an MSK IAM token for local-1: Could not load credentials from any providers`,
    });
  });
});

function tablesEnv(tables: TestTables): Record<string, string> {
  return {
    ORDERS_TABLE: tables.orders,
    OUTBOX_TABLE: tables.outbox,
    RELAY_STATE_TABLE: tables.relayState,
    NOTIFICATIONS_TABLE: tables.notifications,
  };
}
