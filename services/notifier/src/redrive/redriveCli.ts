import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  AppError,
  commonSettings,
  createDynamoDbClients,
  createKafka,
  createLogger,
  deadLetterTopicFor,
  kafkaSettings,
  parseConfig,
} from '@outbox/shared';
import { redriveDeadLetters } from './redriveDeadLetters';
import { RedriveLease } from './RedriveLease';

/** Exit code when another redrive of the same DLQ holds the lease. */
const EXIT_LOCKED = 3;

const usage = `Replays the notifier's dead letters (<topic>.dlq) onto the main topic and prints a JSON report.
Relay letters (raw outbox items, not events) are listed and left in the DLQ, never replayed.

Usage: npm run dlq:redrive -- [--dry-run] [--topic <topic>] [--brokers <host:port,...>] [--group <id>]
                              [--table <name>] [--lease-ms <ms>] [--timeout-ms <ms>]

  --dry-run      report what would move; move and commit nothing
  --topic        main topic (default ORDER_EVENTS_TOPIC, else order-notification-event-topic)
  --brokers      Kafka bootstrap brokers (default KAFKA_BROKERS, else 127.0.0.1:9092)
  --group        consumer group that remembers progress (default <topic>.dlq.redrive)
  --table        table holding the run lease (default NOTIFICATIONS_TABLE, else Notifications)
  --lease-ms     how long the lease holds without renewal (default 60000)
  --timeout-ms   give up when the DLQ end is not reached in time (default 60000)

Exit codes: 0 done, 1 failed, ${EXIT_LOCKED} another redrive of this DLQ is running.
`;

const envSchema = z.object({
  ...kafkaSettings,
  LOG_LEVEL: commonSettings.LOG_LEVEL,
  AWS_REGION: commonSettings.AWS_REGION,
  DYNAMODB_ENDPOINT: commonSettings.DYNAMODB_ENDPOINT,
  NOTIFICATIONS_TABLE: z.string().min(3).default('Notifications'),
});

function positiveInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!(Number.isInteger(parsed) && parsed > 0)) throw new Error(`--${name} must be a positive integer`);
  return parsed;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      topic: { type: 'string' },
      brokers: { type: 'string' },
      group: { type: 'string' },
      table: { type: 'string' },
      'lease-ms': { type: 'string' },
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
    ...(values.table ? { NOTIFICATIONS_TABLE: values.table } : {}),
  });
  const timeoutMs = positiveInteger(values['timeout-ms'], 'timeout-ms');
  const leaseMs = positiveInteger(values['lease-ms'], 'lease-ms') ?? 60_000;
  // Logs go to standard error; standard output carries only the report.
  const logger = createLogger({ service: 'notifier-redrive', level: env.LOG_LEVEL, destination: process.stderr });
  const kafka = createKafka({
    clientId: env.KAFKA_CLIENT_ID ?? 'notifier-redrive',
    brokers: env.KAFKA_BROKERS,
    logger,
  });
  const { client, doc } = createDynamoDbClients({ region: env.AWS_REGION, endpoint: env.DYNAMODB_ENDPOINT });
  try {
    const report = await redriveDeadLetters({
      kafka,
      topic: env.ORDER_EVENTS_TOPIC,
      groupId: values.group,
      dryRun: values['dry-run'] ?? false,
      logger,
      timeoutMs,
      lease: new RedriveLease({
        doc,
        table: env.NOTIFICATIONS_TABLE,
        name: deadLetterTopicFor(env.ORDER_EVENTS_TOPIC),
        durationMs: leaseMs,
      }),
      leaseRenewMs: Math.max(100, Math.floor(leaseMs / 3)),
    });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  } finally {
    client.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const locked = error instanceof AppError && error.code === 'redrive.locked';
    process.stderr.write(
      `dlq:redrive failed: ${error instanceof Error ? error.message : String(error)}\n${locked ? '' : usage}`,
    );
    process.exit(locked ? EXIT_LOCKED : 1);
  },
);
