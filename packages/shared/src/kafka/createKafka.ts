import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from '../observability/createLogger';

/** Options for {@link createKafka}. */
export interface CreateKafkaOptions {
  clientId: string;
  brokers: string[];
  logger: Logger;
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

/** A kafkajs client whose log lines go through the service's JSON logger. */
export function createKafka(options: CreateKafkaOptions): Kafka {
  const kafkaLogger = options.logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
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
  });
}
