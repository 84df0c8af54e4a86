import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { Kafka, logLevel } from 'kafkajs';
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { localDynamoDbClient } from '../src/localDynamoDbClient';
import { portIsOpen } from '../src/portIsOpen';
import { listProcesses } from './processes';
import { waitFor } from '@outbox/testkit';

const CLI = path.resolve(__dirname, '..', 'dist', 'cli.js');
const PORTS = { DYNAMODB_PORT: '28000', KAFKA_PORT: '29092', KAFKA_CONTROLLER_PORT: '29093', KINESIS_PORT: '24567' };
const SERVICE_PORTS = {
  ORDER_API_PORT: '28080',
  ORDER_API_OPS_PORT: '29100',
  RELAY_PORT: '29101',
  NOTIFIER_PORT: '29102',
};
const PROMETHEUS_PORT = '29090';

interface RunningCli {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the cli; `detached` puts it at the head of its own process group, as a terminal does. */
function runCli(args: string[], env: NodeJS.ProcessEnv = {}, detached = false): RunningCli {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before these tests`);
  let output = '';
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exit };
}

describe('local-stack cli', () => {
  let cli: RunningCli | undefined;

  afterEach(async () => {
    // Only reached with a still-running cli when a test failed halfway: it stops what it started.
    if (cli?.child.exitCode !== null) return;
    const running = cli;
    running.child.kill('SIGTERM');
    const timer = setTimeout(() => running.child.kill('SIGKILL'), 60_000);
    await running.exit;
    clearTimeout(timer);
  }, 70_000);

  test('When started with an unknown flag, then it prints the usage and exits 2', async () => {
    cli = runCli(['up', '--bogus']);

    expect(await cli.exit).toEqual({ code: 2, signal: null });
    expect(cli.output()).toContain('Usage: node packages/local-stack/dist/cli.js up [--with-services]');
  });

  test('When `up --with-services` runs, then tables and topics exist, the printed curl places an order, Prometheus (PROMETHEUS_PORT) scrapes the three services, and Ctrl-C (SIGINT to the whole process group, then once more as npm forwards it) stops each service gracefully once (lease released, group left, exit 0), then everything, and exits 0', async () => {
    cli = runCli(['up', '--with-services'], { ...PORTS, ...SERVICE_PORTS, PROMETHEUS_PORT, LOG_LEVEL: 'info' }, true);
    const running = cli;
    await waitFor(async () => running.output().includes('Local stack is ready'), {
      what: 'the cli to report the stack ready',
      timeoutMs: 300_000,
      abortIf: () => (running.child.exitCode !== null ? new Error(`cli exited:\n${running.output()}`) : undefined),
    });

    expect(cli.output()).toContain(`DynamoDB Local  http://127.0.0.1:${PORTS.DYNAMODB_PORT}`);
    const dynamodb = localDynamoDbClient(`http://127.0.0.1:${PORTS.DYNAMODB_PORT}`);
    try {
      const tables = await dynamodb.send(new ListTablesCommand({}));
      expect(tables.TableNames).toEqual(
        expect.arrayContaining(['Orders', 'OrderOutbox', 'RelayState', 'Notifications']),
      );
    } finally {
      dynamodb.destroy();
    }
    const admin = new Kafka({ brokers: [`127.0.0.1:${PORTS.KAFKA_PORT}`], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).toEqual(
        expect.arrayContaining(['order-notification-event-topic', 'order-notification-event-topic.dlq']),
      );
    } finally {
      await admin.disconnect();
    }

    const curl = cli
      .output()
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line.startsWith('curl '));
    expect(curl).toContain(`http://127.0.0.1:${SERVICE_PORTS.ORDER_API_PORT}/orders`);
    // Run the printed command as a user would paste it, and add the status code on a last line.
    const answer = execSync(`${curl as string} -w '\\n%{http_code}'`).toString();
    const status = answer.slice(answer.lastIndexOf('\n') + 1);
    expect(status).toBe('201');
    expect(JSON.parse(answer.slice(0, answer.lastIndexOf('\n')))).toMatchObject({ status: 'CREATED' });

    // Prometheus runs on its port, with a config derived for the services' ports, and scrapes all three.
    const prometheus = `http://127.0.0.1:${PROMETHEUS_PORT}`;
    expect(cli.output()).toMatch(new RegExp(`Prometheus +${prometheus} `));
    type Targets = { activeTargets: { labels: { job: string }; scrapeUrl: string; health: string }[] };
    let targets: Targets['activeTargets'] = [];
    await waitFor(
      async () => {
        const body = (await (await fetch(`${prometheus}/api/v1/targets`)).json()) as { data: Targets };
        targets = body.data.activeTargets;
        return targets.length === 3 && targets.every((target) => target.health === 'up');
      },
      // The first scrape comes within one scrape interval (15 s) of the start.
      { what: `Prometheus to scrape the three services: ${JSON.stringify(targets)}`, timeoutMs: 40_000 },
    );
    expect(Object.fromEntries(targets.map((target) => [target.labels.job, target.scrapeUrl]))).toEqual({
      'order-api': `http://127.0.0.1:${SERVICE_PORTS.ORDER_API_OPS_PORT}/metrics`,
      'outbox-relay': `http://127.0.0.1:${SERVICE_PORTS.RELAY_PORT}/metrics`,
      notifier: `http://127.0.0.1:${SERVICE_PORTS.NOTIFIER_PORT}/metrics`,
    });
    const rules = (await (await fetch(`${prometheus}/api/v1/rules`)).json()) as { data: { groups: unknown[] } };
    expect(rules.data.groups.length).toBeGreaterThan(0);

    // What a terminal does on Ctrl-C: SIGINT to the foreground process group; npm forwards it again.
    process.kill(-(cli.child.pid as number), 'SIGINT');
    cli.child.kill('SIGINT');

    expect(await cli.exit).toEqual({ code: 0, signal: null });
    const output = cli.output();
    const logLines = (service: string) =>
      output
        .split('\n')
        .filter((line) => line.startsWith(`[${service}] {`))
        .map((line) => (JSON.parse(line.slice(line.indexOf('{'))) as { msg: string }).msg);
    expect(output).not.toMatch(/exiting now|did not stop|was killed/);
    expect(logLines('outbox-relay')).toEqual(expect.arrayContaining(['lease released', 'outbox-relay stopped']));
    expect(logLines('outbox-relay')).not.toContain('lease release failed');
    expect(logLines('notifier')).toContain('notifier stopped');
    expect(logLines('notifier')).not.toContain('consumer did not stop cleanly');
    expect(logLines('order-api')).toContain('order-api stopped');
    for (const service of ['order-api', 'outbox-relay', 'notifier']) {
      expect(logLines(service).filter((msg) => msg === 'shutting down')).toHaveLength(1);
      expect(output).toContain(`[local-stack] ${service} exited with code 0`);
    }
    expect(output).toContain('[local-stack] Prometheus stopped');
    for (const port of [...Object.values(PORTS), ...Object.values(SERVICE_PORTS), PROMETHEUS_PORT]) {
      expect(await portIsOpen(Number(port))).toBe(false);
    }
    const leftovers = listProcesses().filter((info) =>
      [...Object.values(PORTS), PROMETHEUS_PORT].some(
        (port) => info.command.includes(port) || info.command.includes(`kafka-${port}`),
      ),
    );
    expect(leftovers).toEqual([]);
  }, 320_000);
});
