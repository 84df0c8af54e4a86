import path from 'node:path';
import { DynamoDbLocalServer } from './DynamoDbLocalServer';
import { KafkaServer } from './KafkaServer';
import { KinesaliteServer } from './KinesaliteServer';
import { repoRoot } from './repoRoot';
import type { ServerHandle } from './ServerHandle';

/** Options for {@link startLocalStack}. Every option wins over its environment variable. */
export interface LocalStackOptions {
  /** DynamoDB Local port (env `DYNAMODB_PORT`, default 8000). */
  dynamodbPort?: number;
  /** Kafka client port (env `KAFKA_PORT`, default 9092). */
  kafkaPort?: number;
  /** Kafka KRaft controller port (env `KAFKA_CONTROLLER_PORT`, default 9093). */
  kafkaControllerPort?: number;
  /** kinesalite port (env `KINESIS_PORT`, default 4567). */
  kinesisPort?: number;
  /** Where downloaded jars are cached (default `<repo>/.cache`). */
  cacheDir?: string;
  /** Where server data and logs go (default `<repo>/.local`). */
  dataDir?: string;
  /** Progress messages; silent by default. */
  log?: (message: string) => void;
  /** The environment to read ports from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Run each server in its own process group (see {@link LocalServerOptions.detached}). */
  detached?: boolean;
}

/** Where clients reach the local servers. */
export interface LocalStackEndpoints {
  /** `http://127.0.0.1:8000` */
  dynamodb: string;
  /** `['127.0.0.1:9092']` */
  kafkaBrokers: string[];
  /** `http://127.0.0.1:4567` */
  kinesis: string;
}

/** The running local stack. */
export interface LocalStack {
  endpoints: LocalStackEndpoints;
  dynamodb: ServerHandle;
  kafka: ServerHandle;
  kinesis: ServerHandle;
  /** Stops the servers this stack started (not reused ones). Idempotent. */
  stop(): Promise<void>;
}

function port(option: number | undefined, env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  if (option !== undefined) return option;
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new Error(`${name} must be a port number between 1 and 65535, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * Starts DynamoDB Local, Kafka (KRaft) and kinesalite side by side, reusing any that already
 * answer on their port, and resolves once all three answer. When one fails, the others are
 * stopped again and the error is thrown. Tables and topics are not created here: see
 * `ensureTables` and `ensureTopics`.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env = options.env ?? process.env;
  const dataDir = options.dataDir ?? path.join(repoRoot(), '.local');
  const log = options.log;
  const dynamodb = new DynamoDbLocalServer({
    port: port(options.dynamodbPort, env, 'DYNAMODB_PORT', 8000),
    dataDir,
    log,
    detached: options.detached,
  });
  const kafka = new KafkaServer({
    port: port(options.kafkaPort, env, 'KAFKA_PORT', 9092),
    controllerPort: port(options.kafkaControllerPort, env, 'KAFKA_CONTROLLER_PORT', 9093),
    cacheDir: options.cacheDir,
    dataDir,
    log,
    detached: options.detached,
  });
  const kinesis = new KinesaliteServer({
    port: port(options.kinesisPort, env, 'KINESIS_PORT', 4567),
    dataDir,
    log,
    detached: options.detached,
  });
  const servers = [dynamodb, kafka, kinesis];

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= Promise.allSettled(servers.map((server) => server.stop())).then((results) => {
      const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failures.length > 0) {
        throw new AggregateError(
          failures.map((failure) => failure.reason),
          `Stopping the local stack failed: ${failures.map((failure) => String(failure.reason)).join('; ')}`,
        );
      }
    });
    return stopping;
  };

  const started = await Promise.allSettled(servers.map((server) => server.start()));
  const failures = started.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failures.length > 0) {
    await stop().catch(() => undefined);
    // Both JVM servers fail alike when Java is missing: report each distinct problem once.
    const messages = [
      ...new Set(
        failures.map((failure) => (failure.reason instanceof Error ? failure.reason.message : String(failure.reason))),
      ),
    ];
    throw messages.length === 1
      ? failures[0]!.reason
      : new AggregateError(
          failures.map((failure) => failure.reason),
          `The local stack did not start: ${messages.join(' / ')}`,
        );
  }

  return {
    endpoints: { dynamodb: dynamodb.endpoint, kafkaBrokers: kafka.brokers, kinesis: kinesis.endpoint },
    dynamodb,
    kafka,
    kinesis,
    stop,
  };
}
