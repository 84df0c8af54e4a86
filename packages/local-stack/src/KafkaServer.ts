import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { LocalServer, type LocalServerOptions } from './LocalServer';
import { ManagedProcess } from './ManagedProcess';
import { repoRoot } from './repoRoot';
import { requireJava, requireMaven } from './requiredTools';

/** The Kafka release the local stack runs; keep `kafka/pom.xml` in step. */
export const KAFKA_VERSION = '3.9.1';

/** A SCRAM user of the broker's SASL_SSL listener. */
export interface KafkaScramUser {
  /** Letters, digits, `-`, `_` and `.` (the storage tool's `--add-scram` syntax has no quoting). */
  username: string;
  /** No `,`, `[`, `]` or `"` for the same reason. */
  password: string;
}

/**
 * Extra TLS listeners beside PLAINTEXT (which stays, for the health check and test admins).
 * Certificates come from the test (see `createTestCertificates`).
 */
export interface KafkaTlsListenersOptions {
  /** The broker's unencrypted PKCS#8 key and certificate chain in one PEM file. */
  keyStorePemFile: string;
  /** Port of an `SSL` listener (TLS, no authentication). */
  sslPort?: number;
  /** Port of a `SASL_SSL` listener with SCRAM-SHA-512 (and unsecured OAUTHBEARER when asked). */
  saslSslPort?: number;
  /** SCRAM-SHA-512 users; KRaft takes them when the storage is formatted (`--add-scram`). */
  scramUsers?: KafkaScramUser[];
  /**
   * Also accept OAUTHBEARER on the SASL_SSL listener, with Kafka's unsecured validator (unsigned
   * JWTs with `sub` and `exp`): a stand-in for MSK IAM to exercise token refresh.
   */
  oauthBearerUnsecured?: boolean;
  /** `connections.max.reauth.ms`: sessions end after this and must re-authenticate (default: never). */
  connectionsMaxReauthMs?: number;
}

/** Options for {@link KafkaServer}. */
export interface KafkaServerOptions extends LocalServerOptions {
  /** Client (PLAINTEXT) port (default 9092). */
  port?: number;
  /** KRaft controller port (default 9093). */
  controllerPort?: number;
  /** Where the Kafka jars are cached, in `kafka-<version>/libs` (default `<repo>/.cache`). */
  cacheDir?: string;
  /** Parent of the broker's folder `kafka-<port>` (default `<repo>/.local`). */
  dataDir?: string;
  /**
   * When true (the default), the first `start()` of this instance wipes `kafka-<port>` so the
   * broker begins empty; later `start()` calls on the same instance keep topics and records.
   */
  freshData?: boolean;
  /** The pom that lists the Kafka jars (default `packages/local-stack/kafka/pom.xml`). */
  pomFile?: string;
  /** How long the first jar fetch may take, in milliseconds (default 10 minutes). */
  fetchTimeoutMs?: number;
  /** Extra SSL and SASL_SSL listeners (off by default). */
  tls?: KafkaTlsListenersOptions;
  /**
   * The PLAINTEXT port the broker tells clients to connect to, when another process (a proxy)
   * listens there and forwards to `port` (default: `port` itself).
   */
  advertisedPort?: number;
}

const SCRAM_SAFE_NAME = /^[\w.-]+$/;
const SCRAM_SAFE_PASSWORD = /^[^,[\]"\s]+$/;

const jarFetches = new Map<string, Promise<string>>();

function execFileText(command: string, args: string[], options: { timeoutMs: number; cwd?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: options.timeoutMs, cwd: options.cwd, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (error) {
          reject(
            new Error(
              `\`${command} ${args.join(' ')}\` failed: ${error.message}\n${output.split('\n').slice(-30).join('\n')}`,
            ),
          );
        } else {
          resolve(output);
        }
      },
    );
  });
}

/**
 * A KRaft cluster id: 16 random bytes in unpadded base64url (22 characters). Like Kafka's own
 * `Uuid.randomUuid()` it never starts with '-', which the storage tool would read as an option.
 */
export function newKafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * Apache Kafka as a single KRaft node (broker and controller in one JVM), from jars that Maven
 * fetches once from Maven Central into the cache folder. Healthy when `describeCluster`
 * answers. Data lives in `<dataDir>/kafka-<port>`, which survives `stop()` + `start()`.
 * Logs: `server.log` (WARN and above) and `kafka.out` (stdout/stderr) in that folder.
 */
export class KafkaServer extends LocalServer {
  readonly name = 'Kafka';
  readonly controllerPort: number;
  /** The broker's folder: properties, log4j settings, logs and the partition data. */
  readonly serverDir: string;
  private readonly cacheDir: string;
  private readonly pomFile: string;
  private readonly fetchTimeoutMs: number;
  private wipeOnNextLaunch: boolean;
  private readonly tls?: KafkaTlsListenersOptions;
  private readonly advertisedPort: number;

  constructor(options: KafkaServerOptions = {}) {
    super(options.port ?? 9092, options, { startTimeoutMs: 90_000 });
    this.controllerPort = options.controllerPort ?? 9093;
    this.cacheDir = options.cacheDir ?? path.join(repoRoot(), '.cache');
    this.serverDir = path.join(options.dataDir ?? path.join(repoRoot(), '.local'), `kafka-${this.port}`);
    this.pomFile = options.pomFile ?? path.resolve(__dirname, '..', 'kafka', 'pom.xml');
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 10 * 60_000;
    this.wipeOnNextLaunch = options.freshData ?? true;
    this.tls = options.tls;
    this.advertisedPort = options.advertisedPort ?? this.port;
    for (const user of options.tls?.scramUsers ?? []) {
      if (!SCRAM_SAFE_NAME.test(user.username) || !SCRAM_SAFE_PASSWORD.test(user.password)) {
        throw new Error(`SCRAM user "${user.username}": name or password has characters --add-scram cannot take`);
      }
    }
  }

  /** `server.log` (log4j, WARN and above) and `kafka.out` (stdout and stderr). */
  get logFiles(): string[] {
    return [path.join(this.serverDir, 'server.log'), path.join(this.serverDir, 'kafka.out')];
  }

  /** `host:port` for Kafka clients. */
  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  /** `host:port` of the SSL listener, when there is one. */
  get sslBrokers(): string[] {
    return this.tls?.sslPort ? [`127.0.0.1:${this.tls.sslPort}`] : [];
  }

  /** `host:port` of the SASL_SSL listener, when there is one. */
  get saslSslBrokers(): string[] {
    return this.tls?.saslSslPort ? [`127.0.0.1:${this.tls.saslSslPort}`] : [];
  }

  protected override ports(): number[] {
    return [
      this.port,
      this.controllerPort,
      ...[this.tls?.sslPort, this.tls?.saslSslPort].filter((p) => p !== undefined),
    ];
  }

  protected override async isHealthy(): Promise<boolean> {
    const admin = new Kafka({
      clientId: 'local-stack-health',
      brokers: this.brokers,
      connectionTimeout: 1000,
      requestTimeout: 2000,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  protected override async launch(): Promise<ManagedProcess> {
    await requireJava();
    const libsDir = await this.ensureJars();
    if (this.wipeOnNextLaunch) {
      fs.rmSync(this.serverDir, { recursive: true, force: true });
      this.wipeOnNextLaunch = false;
    }
    const logDir = path.join(this.serverDir, 'logs');
    fs.mkdirSync(logDir, { recursive: true });
    const propertiesFile = path.join(this.serverDir, 'server.properties');
    const log4jFile = path.join(this.serverDir, 'log4j.properties');
    fs.writeFileSync(propertiesFile, this.serverProperties(logDir));
    fs.writeFileSync(log4jFile, this.log4jProperties());
    const classPath = path.join(libsDir, '*');
    const log4j = `-Dlog4j.configuration=file:${log4jFile}`;

    // Formatting once keeps the cluster id and data across restarts.
    if (!fs.existsSync(path.join(logDir, 'meta.properties'))) {
      await execFileText(
        'java',
        [
          log4j,
          '-cp',
          classPath,
          'kafka.tools.StorageTool',
          'format',
          '-t',
          newKafkaClusterId(),
          '-c',
          propertiesFile,
          ...(this.tls?.scramUsers ?? []).flatMap((user) => [
            '--add-scram',
            `SCRAM-SHA-512=[name=${user.username},password=${user.password}]`,
          ]),
        ],
        { timeoutMs: 60_000, cwd: this.serverDir },
      );
    }

    const outFile = path.join(this.serverDir, 'kafka.out');
    fs.writeFileSync(outFile, '');
    const child = spawn(
      'java',
      [
        '-Xms256m',
        '-Xmx768m',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-Djava.awt.headless=true',
        `-Dkafka.logs.dir=${this.serverDir}`,
        log4j,
        '-cp',
        classPath,
        'kafka.Kafka',
        propertiesFile,
      ],
      { cwd: this.serverDir, stdio: ['ignore', 'pipe', 'pipe'], detached: this.detached },
    );
    return new ManagedProcess({ name: this.name, child, logFile: outFile });
  }

  /** Fetches the jars with Maven unless the cache is complete; returns the libs folder. */
  private ensureJars(): Promise<string> {
    const versionDir = path.join(this.cacheDir, `kafka-${KAFKA_VERSION}`);
    let fetch = jarFetches.get(versionDir);
    if (!fetch) {
      fetch = this.fetchJars(versionDir);
      fetch.catch(() => jarFetches.delete(versionDir));
      jarFetches.set(versionDir, fetch);
    }
    return fetch;
  }

  private async fetchJars(versionDir: string): Promise<string> {
    const libsDir = path.join(versionDir, 'libs');
    const marker = path.join(versionDir, '.complete');
    if (fs.existsSync(marker) && fs.existsSync(path.join(libsDir, `kafka_2.13-${KAFKA_VERSION}.jar`))) {
      return libsDir;
    }
    await requireMaven();
    this.log(`Fetching the Kafka ${KAFKA_VERSION} jars from Maven Central into ${libsDir} (first run only)`);
    const started = Date.now();
    fs.mkdirSync(versionDir, { recursive: true });
    // Fetch into a private folder and rename it, so a half-done fetch never looks complete.
    const partialDir = path.join(versionDir, `libs.partial-${process.pid}`);
    fs.rmSync(partialDir, { recursive: true, force: true });
    try {
      await execFileText(
        'mvn',
        [
          '-q',
          '-B',
          '-f',
          this.pomFile,
          'dependency:copy-dependencies',
          `-DoutputDirectory=${partialDir}`,
          '-DincludeScope=runtime',
        ],
        { timeoutMs: this.fetchTimeoutMs },
      );
      if (!fs.existsSync(path.join(partialDir, `kafka_2.13-${KAFKA_VERSION}.jar`))) {
        throw new Error(
          `Maven finished but ${partialDir} holds no kafka_2.13-${KAFKA_VERSION}.jar; check ${this.pomFile}`,
        );
      }
      fs.rmSync(libsDir, { recursive: true, force: true });
      fs.renameSync(partialDir, libsDir);
      fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
    } finally {
      fs.rmSync(partialDir, { recursive: true, force: true });
    }
    this.log(`Fetched the Kafka jars in ${Math.round((Date.now() - started) / 1000)} s`);
    return libsDir;
  }

  private serverProperties(logDir: string): string {
    const brokerListeners = [`PLAINTEXT://127.0.0.1:${this.port}`];
    if (this.tls?.sslPort) brokerListeners.push(`SSL://127.0.0.1:${this.tls.sslPort}`);
    if (this.tls?.saslSslPort) brokerListeners.push(`SASL_SSL://127.0.0.1:${this.tls.saslSslPort}`);
    const advertised = [`PLAINTEXT://127.0.0.1:${this.advertisedPort}`, ...brokerListeners.slice(1)];
    const settings: Record<string, string | number> = {
      'process.roles': 'broker,controller',
      'node.id': 1,
      'controller.quorum.voters': `1@127.0.0.1:${this.controllerPort}`,
      listeners: [...brokerListeners, `CONTROLLER://127.0.0.1:${this.controllerPort}`].join(','),
      'advertised.listeners': advertised.join(','),
      'inter.broker.listener.name': 'PLAINTEXT',
      'controller.listener.names': 'CONTROLLER',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL',
      ...this.tlsProperties(),
      'log.dirs': logDir,
      'num.partitions': 3,
      'auto.create.topics.enable': 'false',
      'offsets.topic.replication.factor': 1,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      // Consumers in tests join at once instead of waiting 3 s for more members.
      'group.initial.rebalance.delay.ms': 0,
    };
    const lines = Object.entries(settings).map(([key, value]) => `${key}=${value}`);
    return `# Written by @outbox/local-stack (KafkaServer.ts); rewritten on every start.\n${lines.join('\n')}\n`;
  }

  private tlsProperties(): Record<string, string | number> {
    if (!this.tls) return {};
    const mechanisms = ['SCRAM-SHA-512', ...(this.tls.oauthBearerUnsecured ? ['OAUTHBEARER'] : [])];
    return {
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': this.tls.keyStorePemFile,
      'listener.name.sasl_ssl.sasl.enabled.mechanisms': mechanisms.join(','),
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config':
        'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      ...(this.tls.oauthBearerUnsecured
        ? {
            // Without a validator class Kafka validates unsigned JWTs (OAuthBearerUnsecuredValidatorCallbackHandler).
            'listener.name.sasl_ssl.oauthbearer.sasl.jaas.config':
              'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;',
          }
        : {}),
      ...(this.tls.connectionsMaxReauthMs ? { 'connections.max.reauth.ms': this.tls.connectionsMaxReauthMs } : {}),
    };
  }

  private log4jProperties(): string {
    const file = path.join(this.serverDir, 'server.log');
    return [
      // Errors also go to stdout (kafka.out), whose tail explains a broker that exits at start.
      'log4j.rootLogger=WARN, file, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.Threshold=ERROR',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.appender.file=org.apache.log4j.FileAppender',
      `log4j.appender.file.File=${file}`,
      'log4j.appender.file.Append=true',
      'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n');
  }
}
