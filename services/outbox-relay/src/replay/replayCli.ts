import { parseArgs } from 'node:util';
import { AppError, createDynamoDbClients, createKafka, createLogger } from '@outbox/shared';
import { loadConfig } from '../config';
import { OutboxBackfill } from '../backfill/OutboxBackfill';
import { KafkaPublisher } from '../publish/KafkaPublisher';
import { replayEvents } from './replayEvents';

const usage = `Re-publishes outbox events from the OrderOutbox table and prints a JSON report of what it sent.

Usage: npm run relay:replay -- --from <time> [--to <time>] [--aggregate <id>] [--topic <name>] [--dry-run]

  --from        earliest occurredAt to replay (ISO 8601, e.g. 2026-11-25T13:00:00Z); required
  --to          latest occurredAt to replay (default: no end)
  --aggregate   only this aggregate's events
  --topic       target topic (default ORDER_EVENTS_TOPIC, else order-notification-event-topic); must exist
  --dry-run     report what would be sent; send nothing

Reads the table through the relay's backfill path (bounded memory, each aggregate in seq order),
publishes with source-shard "replay", and never touches the relay's lease or checkpoints.
Consumers drop the repeats through their per-aggregate cursor. Settings (DYNAMODB_ENDPOINT,
OUTBOX_TABLE, KAFKA_BROKERS, ...) come from the relay's environment variables; logs go to
standard error.
`;

function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new AppError('replay.invalid_time', `--${name} is not a time: ${value}`);
  return ms;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      aggregate: { type: 'string' },
      topic: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const fromMs = parseTime('from', values.from);
  if (fromMs === undefined) throw new AppError('replay.no_from', '--from is required');
  const toMs = parseTime('to', values.to);
  if (toMs !== undefined && toMs < fromMs) throw new AppError('replay.empty_window', '--to lies before --from');
  if (values.aggregate === '') throw new AppError('replay.invalid_aggregate', '--aggregate is empty');
  const config = loadConfig(values.topic ? { ...process.env, ORDER_EVENTS_TOPIC: values.topic } : process.env);
  const logger = createLogger({ service: 'outbox-relay-replay', level: config.logLevel, destination: process.stderr });
  const { client, doc } = createDynamoDbClients({ region: config.aws.region, endpoint: config.aws.dynamodbEndpoint });
  const kafka = createKafka({ clientId: `${config.kafka.clientId}-replay`, brokers: config.kafka.brokers, logger });
  // Never the relay's transactional id: that would fence the live leader's producer.
  const publisher = new KafkaPublisher({
    kafka,
    topic: config.kafka.topic,
    maxRequestBytes: config.kafka.maxRequestBytes,
  });
  try {
    const report = await replayEvents({
      source: new OutboxBackfill({
        doc,
        table: config.tables.outbox,
        lookBackMs: config.backfill.lookBackMs,
        lookAheadMs: config.backfill.lookAheadMs,
      }),
      publisher,
      topic: config.kafka.topic,
      window: { fromMs, toMs, aggregateId: values.aggregate },
      dryRun: values['dry-run'] ?? false,
      batchSize: config.batchSize,
      logger,
    });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  } finally {
    await publisher.disconnect().catch(() => undefined);
    client.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`relay:replay failed: ${error instanceof Error ? error.message : String(error)}\n${usage}`);
    process.exit(1);
  },
);
