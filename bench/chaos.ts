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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDynamoDbClients, topicDefinitions } from '@outbox/shared';
import { DynamoDbLocalServer, KafkaServer, ensureTables, ensureTopics } from '@outbox/local-stack';
import { ALL_FAULTS, runChaos } from './chaos/runChaos.ts';
import { freePort, startService } from './serviceProcess.ts';

const USAGE =
  'Usage: npm run chaos -- [--duration <seconds, default 180>] [--rate <orders/s, default 10>] [--seed <n>]';

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
