#!/usr/bin/env node
/**
 * `node packages/local-stack/dist/cli.js up [--with-services [--no-prometheus]]`
 *
 * Starts DynamoDB Local, Kafka and kinesalite, creates the tables (from the Copilot addons) and
 * the topics, and prints the endpoints. With `--with-services` it also runs the three services
 * from their `dist/main.js` against the stack, and Prometheus (when installed, unless
 * `--no-prometheus`) scraping them with `ops/prometheus.yml` and its alert rules. Ctrl-C (SIGINT)
 * or SIGTERM stops everything.
 */
import { SERVICE_ALLOCATOR_ENV, SERVICE_NODE_FLAGS, topicDefinitions, pollUntil } from '@outbox/shared';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { ensureTables } from './ensureTables';
import { ensureTopics } from './ensureTopics';
import { localDynamoDbClient } from './localDynamoDbClient';
import { startLocalStack, type LocalStack } from './LocalStack';
import { ManagedProcess } from './ManagedProcess';
import { portIsOpen } from './portIsOpen';
import {
  PROMETHEUS_REQUIRED_MESSAGE,
  PrometheusServer,
  prometheusConfig,
  prometheusInstalled,
  repoPrometheusConfigFile,
  repoPrometheusTargets,
} from './PrometheusServer';
import { repoRoot } from './repoRoot';

const USAGE = 'Usage: node packages/local-stack/dist/cli.js up [--with-services] [--no-prometheus]';
const PROMETHEUS_DEFAULT_PORT = 9090;
const SERVICE_STOP_GRACE_MS = 10_000;
const SERVICE_READY_TIMEOUT_MS = 60_000;
/** A second signal this soon after the first is the same Ctrl-C delivered twice. */
const DUPLICATE_SIGNAL_WINDOW_MS = 1000;

interface ServiceSpec {
  name: string;
  entry: string;
  portVariable: string;
  defaultPort: number;
  /** Set when `/readyz` is on a port of its own (the service's `OPS_PORT`), not on `PORT`. */
  ops?: { portVariable: string; defaultPort: number };
}

const SERVICES: ServiceSpec[] = [
  {
    name: 'order-api',
    entry: 'services/order-api/dist/main.js',
    portVariable: 'ORDER_API_PORT',
    defaultPort: 8080,
    ops: { portVariable: 'ORDER_API_OPS_PORT', defaultPort: 9100 },
  },
  { name: 'outbox-relay', entry: 'services/outbox-relay/dist/main.js', portVariable: 'RELAY_PORT', defaultPort: 9101 },
  { name: 'notifier', entry: 'services/notifier/dist/main.js', portVariable: 'NOTIFIER_PORT', defaultPort: 9102 },
];

interface RunningService {
  spec: ServiceSpec;
  port: number;
  opsPort: number;
  process: ManagedProcess;
}

interface ServicePorts {
  spec: ServiceSpec;
  port: number;
  /** Where `/readyz` answers: `port` unless the service has an ops port of its own. */
  opsPort: number;
}

const say = (message: string): void => console.log(`[local-stack] ${message}`);
const complain = (message: string): void => console.error(`[local-stack] ${message}`);

function servicePort({ portVariable, defaultPort }: { portVariable: string; defaultPort: number }): number {
  const raw = process.env[portVariable];
  if (raw === undefined || raw === '') return defaultPort;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`${portVariable} must be a port number between 1 and 65535, got ${JSON.stringify(raw)}`);
  }
  return port;
}

function httpStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = http.get(url, { timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve(undefined));
  });
}

function prefixLines(stream: NodeJS.ReadableStream | null, prefix: string, write: (line: string) => void): void {
  if (!stream) return;
  readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => write(`${prefix} ${line}`));
}

class Cli {
  private stack: LocalStack | undefined;
  private prometheus: PrometheusServer | undefined;
  private readonly services: RunningService[] = [];
  private shuttingDown: Promise<never> | undefined;
  private startup: Promise<void> = Promise.resolve();
  private firstSignalAt = 0;

  async up(withServices: boolean, withPrometheus: boolean): Promise<void> {
    process.on('SIGINT', () => this.onSignal('SIGINT'));
    process.on('SIGTERM', () => this.onSignal('SIGTERM'));
    this.startup = this.start(withServices, withPrometheus);
    try {
      await this.startup;
    } catch (error) {
      if (this.shuttingDown) return;
      complain(error instanceof Error ? error.message : String(error));
      await this.shutdown(1);
    }
  }

  private onSignal(signal: NodeJS.Signals): void {
    // One Ctrl-C under `npm start` arrives twice: from the terminal and forwarded by npm.
    if (this.shuttingDown && Date.now() - this.firstSignalAt < DUPLICATE_SIGNAL_WINDOW_MS) return;
    if (this.shuttingDown) {
      complain(`${signal} again: exiting now`);
      // The exit hook SIGKILLs the children that are still alive.
      process.exit(1);
    }
    this.firstSignalAt = Date.now();
    say(`${signal} received: stopping`);
    void this.shutdown(0);
  }

  private async start(withServices: boolean, withPrometheus: boolean): Promise<void> {
    // Find a missing build or a taken port before spending time on the stack.
    const services = withServices ? await this.checkServices() : [];
    const prometheusPort = withServices && withPrometheus ? await this.checkPrometheus() : undefined;
    // Every child runs in its own process group: Ctrl-C reaches the whole foreground group (and
    // `npm start` forwards it once more), so only this process takes it and stops the services
    // first, once each with SIGTERM, then the servers they still need until then.
    const stack = await startLocalStack({ log: say, detached: true });
    this.stack = stack;
    if (this.shuttingDown) return;

    const { endpoints } = stack;
    const client = localDynamoDbClient(endpoints.dynamodb);
    let tables: Record<string, string>;
    try {
      tables = await ensureTables({ client });
    } finally {
      client.destroy();
    }
    const topic = process.env.ORDER_EVENTS_TOPIC ?? 'order-notification-event-topic';
    const definitions = topicDefinitions({ topic });
    await ensureTopics({ brokers: endpoints.kafkaBrokers, definitions });
    if (this.shuttingDown) return;

    console.log(
      [
        '',
        'Local stack is up:',
        `  DynamoDB Local  ${endpoints.dynamodb}   tables: ${Object.values(tables).join(', ')}`,
        `  Kafka           ${endpoints.kafkaBrokers.join(',')}   topics: ${definitions.map((d) => d.topic).join(', ')}`,
        `  kinesalite      ${endpoints.kinesis}`,
        `  logs            ${[stack.dynamodb, stack.kafka, stack.kinesis].flatMap((server) => server.logFiles).join(' ')}`,
        '',
        'For a service run by hand:',
        `  export DYNAMODB_ENDPOINT=${endpoints.dynamodb} KAFKA_BROKERS=${endpoints.kafkaBrokers.join(',')} KINESIS_ENDPOINT=${endpoints.kinesis}`,
        '',
      ].join('\n'),
    );

    if (withServices) await this.startServices(stack, services);
    if (this.shuttingDown) return;
    if (prometheusPort !== undefined) await this.startPrometheus(prometheusPort, services);
    if (this.shuttingDown) return;
    say('Local stack is ready. Press Ctrl-C to stop.');
  }

  private async checkServices(): Promise<ServicePorts[]> {
    const specs = SERVICES.map((spec) => ({
      spec,
      port: servicePort(spec),
      opsPort: spec.ops ? servicePort(spec.ops) : servicePort(spec),
    }));
    for (const { spec, port, opsPort } of specs) {
      if (!fs.existsSync(path.join(repoRoot(), spec.entry))) {
        throw new Error(`${spec.entry} is missing: run \`npm run build\` first.`);
      }
      const wanted: [number, string][] = [[port, spec.portVariable]];
      if (spec.ops) wanted.push([opsPort, spec.ops.portVariable]);
      for (const [taken, variable] of wanted) {
        if (await portIsOpen(taken)) {
          throw new Error(`Port ${taken} for ${spec.name} is already in use: stop what runs there or set ${variable}.`);
        }
      }
    }
    return specs;
  }

  /** The port for Prometheus, or `undefined` (with a note) when it is not installed. */
  private async checkPrometheus(): Promise<number | undefined> {
    if (!prometheusInstalled()) {
      say(PROMETHEUS_REQUIRED_MESSAGE);
      return undefined;
    }
    const spec = { portVariable: 'PROMETHEUS_PORT', defaultPort: PROMETHEUS_DEFAULT_PORT };
    const port = servicePort(spec);
    if (await portIsOpen(port)) {
      throw new Error(
        `Port ${port} for Prometheus is already in use: stop what runs there, set PROMETHEUS_PORT or pass --no-prometheus.`,
      );
    }
    return port;
  }

  /**
   * Runs Prometheus on `port` with `ops/prometheus.yml` and its rules; when the services listen on
   * other ports than the file scrapes, with a copy retargeted at them in `.local/`.
   */
  private async startPrometheus(port: number, specs: ServicePorts[]): Promise<void> {
    const dataDir = path.join(repoRoot(), '.local');
    const suffix = port === PROMETHEUS_DEFAULT_PORT ? '' : `-${port}`;
    const targets = Object.fromEntries(specs.map(({ spec, opsPort }) => [spec.name, `127.0.0.1:${opsPort}`]));
    const fileTargets = repoPrometheusTargets();
    const same =
      Object.keys(fileTargets).length === specs.length &&
      Object.entries(targets).every(([job, target]) => fileTargets[job] === target);
    let configFile = repoPrometheusConfigFile();
    if (!same) {
      fs.mkdirSync(dataDir, { recursive: true });
      configFile = path.join(dataDir, `prometheus${suffix}.yml`);
      fs.writeFileSync(
        configFile,
        `# Derived from ops/prometheus.yml by the local-stack cli for the ports in use; rewritten at each start.\n${prometheusConfig({ targets })}`,
      );
    }
    const prometheus = new PrometheusServer({
      port,
      configFile,
      storageDir: path.join(dataDir, `prometheus${suffix}`),
      logDir: dataDir,
      log: say,
      detached: true,
    });
    this.prometheus = prometheus;
    await prometheus.start();
    console.log(
      [
        '',
        `Prometheus      ${prometheus.url}   scrapes ${Object.values(targets).join(', ')} with ${path.relative(repoRoot(), configFile)}`,
        `  logs          ${prometheus.logFiles.join(' ')}`,
        '',
      ].join('\n'),
    );
  }

  private async startServices(stack: LocalStack, specs: ServicePorts[]): Promise<void> {
    const root = repoRoot();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DYNAMODB_ENDPOINT: stack.endpoints.dynamodb,
      KINESIS_ENDPOINT: stack.endpoints.kinesis,
      KAFKA_BROKERS: stack.endpoints.kafkaBrokers.join(','),
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      // DynamoDB Local and kinesalite accept any credentials; the SDK only needs some.
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    };
    for (const { spec, port, opsPort } of specs) {
      // The service's tracing entry loads first, so its instrumentations patch what main.js loads.
      const tracingEntry = path.join(root, path.dirname(spec.entry), 'instrumentation.js');
      // The image's memory settings (Dockerfile), so the local system runs what is deployed.
      const args = [...SERVICE_NODE_FLAGS, '--import', tracingEntry, path.join(root, spec.entry)];
      const child = spawn(process.execPath, args, {
        cwd: root,
        env: {
          ...env,
          ...SERVICE_ALLOCATOR_ENV,
          PORT: String(port),
          ...(spec.ops ? { OPS_PORT: String(opsPort) } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const prefix = `[${spec.name}]`;
      prefixLines(child.stdout, prefix, (line) => console.log(line));
      prefixLines(child.stderr, prefix, (line) => console.error(line));
      const service: RunningService = {
        spec,
        port,
        opsPort,
        process: new ManagedProcess({ name: spec.name, child }),
      };
      this.services.push(service);
      void service.process.exited.then((exit) => {
        if (this.shuttingDown) return;
        const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
        complain(`${spec.name} exited by itself (${how}): stopping everything.`);
        void this.shutdown(1);
      });
    }
    await Promise.all(
      this.services.map(({ spec, opsPort, process: child }) =>
        pollUntil(async () => (await httpStatus(`http://127.0.0.1:${opsPort}/readyz`)) === 200, {
          what: `${spec.name} to answer 200 on http://127.0.0.1:${opsPort}/readyz`,
          timeoutMs: SERVICE_READY_TIMEOUT_MS,
          intervalMs: 250,
          abortIf: () => (this.shuttingDown ? new Error('stopping') : child.exitError()),
        }),
      ),
    );
    const api = `http://127.0.0.1:${this.services[0]!.port}`;
    const body = JSON.stringify({
      customerId: '5f0c3c3e-8f7a-4c1e-9a53-2f1d3b7f9a10',
      items: [{ productId: 'sku-1', quantity: 2, price: 12.5 }],
    });
    console.log(
      [
        '',
        `order-api is ready at ${api} (outbox-relay :${this.services[1]!.port}, notifier :${this.services[2]!.port}).`,
        'Place an order:',
        `  curl -sS -X POST ${api}/orders -H 'content-type: application/json' -d '${body}'`,
        '',
      ].join('\n'),
    );
  }

  /** Stops the services, then the stack, then exits with `code`. Runs once. */
  private shutdown(code: number): Promise<never> {
    this.shuttingDown ??= (async (): Promise<never> => {
      // Let a start in progress settle, so nothing it launches is left behind.
      await this.startup.catch(() => undefined);
      let exitCode = code;
      await Promise.all(
        this.services.map(async ({ spec, process: child }) => {
          const exit = await child.stop(SERVICE_STOP_GRACE_MS);
          if (exit.signal === 'SIGKILL') complain(`${spec.name} did not stop within 10 s and was killed`);
          else say(`${spec.name} exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}`);
        }),
      );
      try {
        await Promise.all([this.prometheus?.stop(), this.stack?.stop()]);
      } catch (error) {
        complain(error instanceof Error ? error.message : String(error));
        exitCode = 1;
      }
      say('stopped');
      process.exit(exitCode);
    })();
    return this.shuttingDown;
  }
}

function main(argv: string[]): void {
  const [command, ...flags] = argv;
  const unknown = flags.filter((flag) => flag !== '--with-services' && flag !== '--no-prometheus');
  if (command !== 'up' || unknown.length > 0) {
    complain(USAGE);
    process.exit(2);
  }
  void new Cli().up(flags.includes('--with-services'), !flags.includes('--no-prometheus'));
}

main(process.argv.slice(2));
