/**
 * `npm run chaos [-- --duration 180 --rate 10 --seed 42]`
 *
 * Runs the whole system locally under a steady load of orders (some cancelled) and breaks it on
 * purpose: SIGKILL of the relay leader, SIGSTOP of the relay leader past its lease (then
 * SIGCONT), SIGKILL of the notifier while effects are stored but their offsets not yet committed,
 * and a Kafka restart. Two relays run, so a standby takes over. Then it verifies independently
 * of the services, from the topic (read from the beginning by a consumer of its own) and a scan
 * of the Notifications table: none missing, no double effect, per-aggregate order. It prints a
 * table of faults and invariants and exits 1 on any violation or unrecovered fault.
 *
 * Everything runs on its own: DynamoDB Local and Kafka on free ports with data in a temporary
 * folder, the services as child processes (`services/<name>/dist/main.js`), so it never touches
 * a stack that is already running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDynamoDbClients, topicDefinitions, waitFor } from '@outbox/shared';
import { DynamoDbLocalServer, KafkaServer, ensureTables, ensureTopics } from '@outbox/local-stack';
import { ALL_FAULTS, runChaos, type ChaosService } from './chaos/runChaos.ts';

const USAGE =
  'Usage: npm run chaos -- [--duration <seconds, default 180>] [--rate <orders/s, default 10>] [--seed <n>]';
const repoRoot = join(import.meta.dirname, '..');

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '180' },
      rate: { type: 'string', default: '10' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const durationS = Number(values.duration);
  const rate = Number(values.rate);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  const problems = [
    ...(Number.isFinite(durationS) && durationS >= 40 ? [] : ['--duration must be a number of seconds, at least 40']),
    ...(Number.isFinite(rate) && rate > 0 && rate <= 200 ? [] : ['--rate must be a number of orders/s in (0, 200]']),
    ...(Number.isInteger(seed) ? [] : ['--seed must be an integer']),
  ];
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n${USAGE}\n`);
    process.exit(2);
  }
  return { durationS, rate, seed };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const children = new Set<ChildProcess>();
// A crash of the runner must not leave services behind: they are our children, killed by pid.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function startService(
  kind: 'order-api' | 'outbox-relay' | 'notifier',
  name: string,
  env: Record<string, string>,
  logDir: string,
): Promise<ChaosService> {
  const port = await freePort();
  let opsPort = port;
  while (kind === 'order-api' && opsPort === port) opsPort = await freePort();
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  // Tracing entry first, as deployed (README, Tracing).
  const dist = join(repoRoot, 'services', kind, 'dist');
  const child = spawn(process.execPath, ['--import', join(dist, 'instrumentation.js'), join(dist, 'main.js')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      ...env,
      PORT: String(port),
      ...(kind === 'order-api' ? { OPS_PORT: String(opsPort) } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: see ${logDir}/${name}.log`);
      return (await fetch(`http://127.0.0.1:${opsPort}/readyz`).catch(() => undefined))?.status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: `${name} to be ready` },
  );
  const dead = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    port,
    opsPort,
    child,
    kill: async () => {
      if (!dead()) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (dead()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function main(): Promise<number> {
  const { durationS, rate, seed } = options(process.argv.slice(2));
  const say = (line: string) => process.stderr.write(`[chaos] ${line}\n`);
  say(`seed ${seed}, ${durationS} s of load at ${rate} orders/s (replay with --seed ${seed})`);

  const dataDir = mkdtempSync(join(tmpdir(), 'outbox-chaos-'));
  const logDir = dataDir;
  const dynamodb = new DynamoDbLocalServer({ port: await freePort(), dataDir });
  const kafka = new KafkaServer({
    port: await freePort(),
    controllerPort: await freePort(),
    dataDir,
    stopGraceMs: 15_000,
  });
  const { client, doc } = createDynamoDbClients({ region: 'us-east-1', endpoint: dynamodb.endpoint });
  let failed = true;
  try {
    say(`starting DynamoDB Local (:${dynamodb.port}) and Kafka (:${kafka.port}); data and service logs in ${dataDir}`);
    await Promise.all([dynamodb.start(), kafka.start()]);
    const tables = await ensureTables({ client, tablePrefix: 'chaos-' });
    const topic = 'chaos-order-events';
    await ensureTopics({ brokers: kafka.brokers, definitions: topicDefinitions({ topic }) });
    const result = await runChaos({
      durationS,
      rate,
      seed,
      faults: ALL_FAULTS,
      startService: (kind, name, env) => startService(kind, name, env, logDir),
      env: {
        DYNAMODB_ENDPOINT: dynamodb.endpoint,
        KAFKA_BROKERS: kafka.brokers.join(','),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        ORDERS_TABLE: tables.Orders!,
        OUTBOX_TABLE: tables.OrderOutbox!,
        RELAY_STATE_TABLE: tables.RelayState!,
        NOTIFICATIONS_TABLE: tables.Notifications!,
        ORDER_EVENTS_TOPIC: topic,
        NOTIFIER_GROUP_ID: 'chaos-notifier',
      },
      brokers: kafka.brokers,
      topic,
      notificationsTable: tables.Notifications!,
      doc,
      kafka,
      log: say,
    });
    process.stdout.write(`\n${result.report}`);
    failed = result.failed;
  } finally {
    client.destroy();
    await Promise.allSettled([kafka.stop(), dynamodb.stop()]);
    if (failed) say(`service logs kept in ${logDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

main().then(
  // Exit now: a client's leftover timer must not keep a finished run alive.
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
