import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  closeServer,
  createDynamoDbClients,
  createKafka,
  ensureTopics,
  createLogger,
  createMetricsRegistry,
  createOpsServer,
  listen,
  sharedPromise,
  topicDefinitions,
  withTimeout,
  type Logger,
} from '@outbox/shared';
import type { Registry } from 'prom-client';
import type { NotifierConfig } from './config';
import { Inbox } from './inbox/Inbox';
import { DeadLetterPublisher } from './deadLetter/DeadLetterPublisher';
import { OrderEventsConsumer } from './consume/OrderEventsConsumer';
import { createNotifierMetrics } from './consume/notifierMetrics';
import { consumerLagReader } from './consume/readConsumerLag';
import { exponentialBackoff } from '@outbox/shared';
import { NotificationService } from './notify/NotificationService';
import { WebhookChannel } from './notify/WebhookChannel';

/** A running notifier. */
export interface NotifierHandle {
  port: number;
  logger: Logger;
  registry: Registry;
  /** Events held for a gap right now. */
  heldCount(): number;
  /** Idempotent: finishes in-flight messages, commits, leaves the group; rejects when that timed out or failed. */
  stop(): Promise<void>;
}

/** Options for {@link start}. */
export interface StartOptions {
  /**
   * Called once when the notifier can no longer work and will not recover by itself: the Kafka
   * consumer crashed and kafkajs will not restart it. `main` exits non-zero so the orchestrator
   * starts a fresh process; the default only logs.
   */
  onFatal?: (error: Error) => void;
}

/** Builds the clients, joins the consumer group and starts processing. */
export async function start(config: NotifierConfig, options: StartOptions = {}): Promise<NotifierHandle> {
  const logger = createLogger({ service: config.service, level: config.logLevel });
  const registry = createMetricsRegistry({ service: config.service });
  const { client, doc } = createDynamoDbClients({ region: config.aws.region, endpoint: config.aws.dynamodbEndpoint });
  const kafka = createKafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    security: config.kafka.security,
    logger,
  });
  if (config.kafka.ensureTopics) {
    await ensureTopics({ kafka, definitions: topicDefinitions(config.kafka.topics), logger });
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const admin = kafka.admin();
  const consumer = kafka.consumer({
    groupId: config.kafka.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: config.kafka.sessionTimeoutMs,
    heartbeatInterval: config.kafka.heartbeatIntervalMs,
    maxWaitTimeInMs: config.kafka.fetchMaxWaitMs,
  });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
  });
  let fatal = false;
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    joined = false;
    logger.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
    // With restart, kafkajs rejoins by itself; without, this process would stay alive and idle for good.
    if (payload.restart || fatal) return;
    fatal = true;
    options.onFatal?.(payload.error);
  });

  await Promise.all([producer.connect(), admin.connect()]);
  const metrics = createNotifierMetrics(
    registry,
    consumerLagReader({ admin, groupId: config.kafka.groupId, topic: config.kafka.topic }),
  );
  const inbox = new Inbox({ doc, table: config.tables.notifications, retentionDays: config.inboxRetentionDays });
  const webhook = config.webhook ? new WebhookChannel(config.webhook) : undefined;
  const eventsConsumer = new OrderEventsConsumer({
    consumer,
    topic: config.kafka.topic,
    service: new NotificationService({
      inbox,
      webhook,
      webhookRetry: config.webhookRetry,
      onDelivery: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
    }),
    deadLetters: new DeadLetterPublisher(producer),
    metrics,
    logger,
    partitionConcurrency: config.consumer.partitionConcurrency,
    maxInFlight: config.consumer.maxInFlight,
    // Waiting longer than a broker long-poll for a slot would cost more than pausing and fetching again.
    slotWaitMs: config.kafka.fetchMaxWaitMs,
    commitIntervalMs: config.consumer.commitIntervalMs,
    gapTimeoutMs: config.consumer.gapTimeoutMs,
    gapRecheckMs: config.consumer.gapRecheckMs,
    recheckBackoff: exponentialBackoff({
      initialMs: config.consumer.gapRecheckMs,
      maxMs: config.consumer.gapRecheckMaxMs,
    }),
    heldMaxEvents: config.consumer.heldMaxEvents,
    heldMaxBytes: config.consumer.heldMaxBytes,
    backoff: exponentialBackoff(config.consumer.retry),
    onFatal: (error) => {
      if (fatal) return;
      fatal = true;
      options.onFatal?.(error);
    },
  });
  await eventsConsumer.start();
  logger.info(
    { topic: config.kafka.topic, groupId: config.kafka.groupId, webhook: Boolean(webhook) },
    'consuming order events',
  );

  let stopping = false;
  const ops = createOpsServer({
    registry,
    isReady: async () => {
      if (stopping || !joined) return false;
      await client.send(new DescribeTableCommand({ TableName: config.tables.notifications }));
      return true;
    },
  });
  const port = await listen(ops, config.port);

  const stop = sharedPromise(async () => {
    stopping = true;
    let unclean: unknown;
    await withTimeout(
      eventsConsumer.stop(),
      config.shutdownTimeoutMs,
      'finishing, committing and leaving the group',
    ).catch((error: unknown) => {
      unclean = error;
      logger.error({ err: error }, 'consumer did not stop cleanly');
    });
    await producer.disconnect().catch((error: unknown) => logger.warn({ err: error }, 'producer disconnect failed'));
    await admin.disconnect().catch((error: unknown) => logger.warn({ err: error }, 'admin disconnect failed'));
    await closeServer(ops);
    client.destroy();
    // A stop that timed out or failed may have left work uncommitted: say so (main exits non-zero).
    if (unclean !== undefined) throw unclean;
    logger.info('notifier stopped');
  });
  return { port, logger, registry, heldCount: () => eventsConsumer.heldCount(), stop };
}
