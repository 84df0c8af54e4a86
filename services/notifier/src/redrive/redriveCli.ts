import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createKafka, createLogger, kafkaSettings, parseConfig } from '@outbox/shared';
import { redriveDeadLetters } from './redriveDeadLetters';

const usage = `Replays the notifier's dead letters (<topic>.dlq) onto the main topic and prints a JSON report.

Usage: npm run dlq:redrive -- [--dry-run] [--topic <topic>] [--brokers <host:port,...>] [--group <id>] [--timeout-ms <ms>]

  --dry-run      report what would move; move and commit nothing
  --topic        main topic (default ORDER_EVENTS_TOPIC, else order-notification-event-topic)
  --brokers      Kafka bootstrap brokers (default KAFKA_BROKERS, else 127.0.0.1:9092)
  --group        consumer group that remembers progress (default <topic>.dlq.redrive)
  --timeout-ms   give up when the DLQ end is not reached in time (default 60000)
`;

const envSchema = z.object({
  ...kafkaSettings,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      topic: { type: 'string' },
      brokers: { type: 'string' },
      group: { type: 'string' },
      'timeout-ms': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const env = parseConfig(envSchema, {
    ...process.env,
    ...(values.topic ? { ORDER_EVENTS_TOPIC: values.topic } : {}),
    ...(values.brokers ? { KAFKA_BROKERS: values.brokers } : {}),
  });
  const timeoutMs = values['timeout-ms'] ? Number(values['timeout-ms']) : undefined;
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0))
    throw new Error('--timeout-ms must be a positive integer');
  // Logs go to standard error; standard output carries only the report.
  const logger = createLogger({ service: 'notifier-redrive', level: env.LOG_LEVEL, destination: process.stderr });
  const kafka = createKafka({
    clientId: env.KAFKA_CLIENT_ID ?? 'notifier-redrive',
    brokers: env.KAFKA_BROKERS,
    logger,
  });
  const report = await redriveDeadLetters({
    kafka,
    topic: env.ORDER_EVENTS_TOPIC,
    groupId: values.group,
    dryRun: values['dry-run'] ?? false,
    logger,
    timeoutMs,
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`dlq:redrive failed: ${error instanceof Error ? error.message : String(error)}\n${usage}`);
    process.exit(1);
  },
);
