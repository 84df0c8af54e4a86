import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { Kafka, logLevel } from 'kafkajs';
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { localDynamoDbClient } from '../src/localDynamoDbClient';
import { portIsOpen } from '../src/portIsOpen';
import { waitFor } from '@outbox/shared';
import { listProcesses } from './processes';

const CLI = path.resolve(__dirname, '..', 'dist', 'cli.js');
const PORTS = { DYNAMODB_PORT: '28000', KAFKA_PORT: '29092', KAFKA_CONTROLLER_PORT: '29093', KINESIS_PORT: '24567' };
const SERVICE_PORTS = {
  ORDER_API_PORT: '28080',
  ORDER_API_OPS_PORT: '29100',
  RELAY_PORT: '29101',
  NOTIFIER_PORT: '29102',
};

interface RunningCli {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before these tests`);
  let output = '';
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
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

  afterEach(() => {
    // Only reached with a still-running cli when a test failed halfway.
    if (cli?.child.exitCode === null) cli.child.kill('SIGKILL');
  });

  test('When started with an unknown flag, then it prints the usage and exits 2', async () => {
    cli = runCli(['up', '--bogus']);

    expect(await cli.exit).toEqual({ code: 2, signal: null });
    expect(cli.output()).toContain('Usage: node packages/local-stack/dist/cli.js up [--with-services]');
  });

  test('When `up --with-services` runs, then tables and topics exist, the printed curl places an order, and Ctrl-C stops everything and exits 0', async () => {
    cli = runCli(['up', '--with-services'], { ...PORTS, ...SERVICE_PORTS });
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

    cli.child.kill('SIGINT');

    expect(await cli.exit).toEqual({ code: 0, signal: null });
    for (const port of [...Object.values(PORTS), ...Object.values(SERVICE_PORTS)]) {
      expect(await portIsOpen(Number(port))).toBe(false);
    }
    const leftovers = listProcesses().filter((info) =>
      Object.values(PORTS).some((port) => info.command.includes(port) || info.command.includes(`kafka-${port}`)),
    );
    expect(leftovers).toEqual([]);
  }, 320_000);
});
