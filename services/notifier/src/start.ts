import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  closeServer,
  createDynamoDbClients,
  createKafka,
  createLogger,
  createMetricsRegistry,
  createOpsServer,
  listen,
  sharedPromise,
  withTimeout,
  type Logger,
} from '@outbox/shared';
import type { NotifierConfig } from './config';
import { Inbox } from './inbox/Inbox';
import { DeadLetterPublisher } from './deadLetter/DeadLetterPublisher';
import { OrderEventsConsumer } from './consume/OrderEventsConsumer';
import { createNotifierMetrics } from './consume/notifierMetrics';

/** A running notifier. */
export interface NotifierHandle {
  port: number;
  logger: Logger;
  /** Idempotent: finishes in-flight messages, commits, leaves the group. */
  stop(): Promise<void>;
}

/** Builds the clients, joins the consumer group and starts processing. */
export async function start(config: NotifierConfig): Promise<NotifierHandle> {
  const logger = createLogger({ service: config.service, level: config.logLevel });
  const registry = createMetricsRegistry({ service: config.service });
  const { client, doc } = createDynamoDbClients({ region: config.aws.region, endpoint: config.aws.dynamodbEndpoint });
  const kafka = createKafka({ clientId: config.kafka.clientId, brokers: config.kafka.brokers, logger });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const consumer = kafka.consumer({ groupId: config.kafka.groupId, allowAutoTopicCreation: false });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
  });
  consumer.on(consumer.events.CRASH, () => {
    joined = false;
  });

  await producer.connect();
  const eventsConsumer = new OrderEventsConsumer({
    consumer,
    topic: config.kafka.topic,
    inbox: new Inbox({ doc, table: config.tables.notifications, retentionDays: config.inboxRetentionDays }),
    deadLetters: new DeadLetterPublisher(producer),
    metrics: createNotifierMetrics(registry),
    logger,
  });
  await eventsConsumer.start();
  logger.info({ topic: config.kafka.topic, groupId: config.kafka.groupId }, 'consuming order events');

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
    await withTimeout(eventsConsumer.stop(), 15000, 'leaving the consumer group').catch((error: unknown) =>
      logger.warn({ err: error }, 'consumer did not stop cleanly'),
    );
    await producer.disconnect().catch((error: unknown) => logger.warn({ err: error }, 'producer disconnect failed'));
    await closeServer(ops);
    client.destroy();
    logger.info('notifier stopped');
  });
  return { port, logger, stop };
}
