import fs from 'node:fs';
import {
  Kafka,
  logLevel as KafkaLogLevel,
  type Admin,
  type AdminConfig,
  type Consumer,
  type ConsumerConfig,
  type KafkaConfig,
  type LogEntry,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
import { AppError } from '../errors/AppError';
import type { Logger } from '../observability/createLogger';
import { createMskIamTokenProvider, type MskIamTokenProviderOptions } from './createMskIamTokenProvider';
import { describeKafkaSecurity, type KafkaSecurity } from './KafkaSecurity';

/** Options for {@link createKafka}. */
export interface CreateKafkaOptions {
  clientId: string;
  brokers: string[];
  logger: Logger;
  /** How to reach and authenticate to the brokers (default plaintext, the local broker). */
  security?: KafkaSecurity;
  /** Overrides for the MSK IAM token provider (tests inject a signer and clock). */
  iamTokens?: Partial<Omit<MskIamTokenProviderOptions, 'region' | 'logger'>>;
  /** kafkajs retry settings for the client's own connection retries. */
  retry?: KafkaConfig['retry'];
  connectionTimeout?: number;
  requestTimeout?: number;
}

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

function readCaFile(caFile: string): Buffer {
  try {
    return fs.readFileSync(caFile);
  } catch (error) {
    throw new AppError(
      'kafka.tls_ca_unreadable',
      `KAFKA_TLS_CA_FILE ${caFile} cannot be read: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The kafkajs `ssl` and `sasl` settings for one security mode. */
function securityConfig(
  security: KafkaSecurity,
  options: CreateKafkaOptions,
  logger: Logger,
): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  if (security.mode === 'plaintext') return {};
  const ssl = security.caFile ? { ca: [readCaFile(security.caFile)] } : true;
  switch (security.mode) {
    case 'tls':
      return { ssl };
    case 'sasl-iam':
      return {
        ssl,
        sasl: {
          mechanism: 'oauthbearer',
          oauthBearerProvider: createMskIamTokenProvider({ ...options.iamTokens, region: security.region, logger }),
        },
      };
    case 'sasl-scram-sha-512':
      return { ssl, sasl: { mechanism: 'scram-sha-512', username: security.username, password: security.password } };
  }
}

interface ErrorWithBroker extends Error {
  broker?: string;
  retriable?: boolean;
}

/** The error and the ones it wraps, outermost first (retries exceeded wraps the last attempt's error). */
function causeChain(error: unknown): ErrorWithBroker[] {
  const chain: ErrorWithBroker[] = [];
  for (let current = error; current instanceof Error && chain.length < 6; current = current.cause) {
    chain.push(current as ErrorWithBroker);
  }
  return chain.length > 0 ? chain : [new Error(String(error))];
}

/**
 * Turns a failed `connect()` into an {@link AppError} that names the brokers, the security mode
 * and the cause: a refused login (`kafka.authentication_failed`, not retriable), our own failure
 * (an IAM token that could not be signed keeps its code), or a broker that cannot be reached or
 * whose certificate is not trusted (`kafka.connect_failed`).
 */
function connectError(error: unknown, brokers: string[], security: KafkaSecurity): AppError {
  const chain = causeChain(error);
  const broker = chain.find((candidate) => candidate.broker)?.broker;
  const where = `Kafka at ${broker ?? brokers.join(',')} (${describeKafkaSecurity(security)})`;
  const refused = chain.find((candidate) => candidate.name === 'KafkaJSSASLAuthenticationError');
  if (refused) {
    return new AppError('kafka.authentication_failed', `${where} refused authentication: ${refused.message}`, {
      retriable: false,
      cause: error,
    });
  }
  const own = chain.find((candidate): candidate is AppError => candidate instanceof AppError);
  if (own) return new AppError(own.code, `${where}: ${own.message}`, { retriable: own.retriable, cause: error });
  const innermost = chain[chain.length - 1];
  // An unreachable broker is an outage to wait out, even after kafkajs gave up its own retries
  // (which marks the error not retriable); a certificate we do not trust is a setup no wait fixes.
  const untrusted = chain.some((candidate) => isCertificateError((candidate as { code?: unknown }).code));
  return new AppError('kafka.connect_failed', `cannot connect to ${where}: ${innermost.message}`, {
    retriable: !untrusted,
    cause: error,
  });
}

/** Node's TLS verification error codes (`SELF_SIGNED_CERT_IN_CHAIN`, `CERT_HAS_EXPIRED`, …). */
function isCertificateError(code: unknown): boolean {
  return typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_/.test(code);
}

function withClearConnectErrors<T extends { connect(): Promise<void> }>(
  client: T,
  brokers: string[],
  security: KafkaSecurity,
): T {
  const connect = client.connect.bind(client);
  client.connect = async () => {
    try {
      await connect();
    } catch (error) {
      throw connectError(error, brokers, security);
    }
  };
  return client;
}

/** A kafkajs client whose connect errors name the broker, the security mode and the cause. */
class SecuredKafka extends Kafka {
  private readonly brokerList: string[];
  private readonly security: KafkaSecurity;

  constructor(config: KafkaConfig & { brokers: string[] }, security: KafkaSecurity) {
    super(config);
    this.brokerList = config.brokers;
    this.security = security;
  }

  override producer(config?: ProducerConfig): Producer {
    return withClearConnectErrors(super.producer(config), this.brokerList, this.security);
  }

  override consumer(config: ConsumerConfig): Consumer {
    return withClearConnectErrors(super.consumer(config), this.brokerList, this.security);
  }

  override admin(config?: AdminConfig): Admin {
    return withClearConnectErrors(super.admin(config), this.brokerList, this.security);
  }
}

/**
 * A kafkajs client whose log lines go through the service's JSON logger, reaching the brokers
 * with the given security (plaintext, TLS, MSK IAM or SCRAM-SHA-512). A failed `connect()` of its
 * producers, consumers and admins rejects with an `AppError` naming the brokers and the cause.
 */
export function createKafka(options: CreateKafkaOptions): Kafka {
  const kafkaLogger = options.logger.child({ component: 'kafkajs' });
  const security = options.security ?? { mode: 'plaintext' };
  return new SecuredKafka(
    {
      clientId: options.clientId,
      brokers: options.brokers,
      ...securityConfig(security, options, kafkaLogger),
      connectionTimeout: options.connectionTimeout ?? 3000,
      requestTimeout: options.requestTimeout ?? 30000,
      retry: options.retry ?? { initialRetryTime: 200, maxRetryTime: 5000, retries: 8 },
      // kafkajs logs at INFO for routine group churn; WARN keeps the service's logs readable.
      logLevel: KafkaLogLevel.WARN,
      logCreator:
        () =>
        ({ level, log }: LogEntry) => {
          const { message, ...rest } = log;
          kafkaLogger[levelNames[level] ?? 'info'](rest, message);
        },
    },
    security,
  );
}
