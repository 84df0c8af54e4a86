import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  closeServer,
  createDynamoDbClients,
  createDynamoDbStreamsClient,
  createKafka,
  createLogger,
  createMetricsRegistry,
  createOpsServer,
  listen,
  sharedPromise,
  withTimeout,
  type Logger,
} from '@outbox/shared';
import type { RelayConfig } from './config';
import { CheckpointStore } from './checkpoint/CheckpointStore';
import { DynamoDbStreamSource } from './source/DynamoDbStreamSource';
import { KafkaPublisher } from './publish/KafkaPublisher';
import { Relay } from './relay/Relay';
import { createRelayMetrics } from './relay/relayMetrics';

/** A running relay. */
export interface RelayHandle {
  port: number;
  logger: Logger;
  /** Idempotent: finishes the batch in flight, checkpoints, disconnects. */
  stop(): Promise<void>;
}

/** Builds the clients, connects to Kafka, and starts relaying the outbox stream. */
export async function start(config: RelayConfig): Promise<RelayHandle> {
  const logger = createLogger({ service: config.service, level: config.logLevel }).child({ relayId: config.relayId });
  const registry = createMetricsRegistry({ service: config.service });
  const { client, doc } = createDynamoDbClients({ region: config.aws.region, endpoint: config.aws.dynamodbEndpoint });
  const streams = createDynamoDbStreamsClient({ region: config.aws.region, endpoint: config.aws.streamsEndpoint });
  const kafka = createKafka({ clientId: config.kafka.clientId, brokers: config.kafka.brokers, logger });
  const publisher = new KafkaPublisher({ kafka, topic: config.kafka.topic });

  const streamArn = await DynamoDbStreamSource.latestStreamArn(client, config.tables.outbox);
  await publisher.connect();
  const relay = new Relay({
    source: new DynamoDbStreamSource({ streams, streamArn }),
    checkpoints: new CheckpointStore({ doc, table: config.tables.relayState, streamArn }),
    publisher,
    metrics: createRelayMetrics(registry),
    logger,
    batchSize: config.batchSize,
    pollIdleMaxMs: config.pollIdleMaxMs,
  });
  relay.start();
  logger.info({ streamArn, topic: config.kafka.topic }, 'relaying the outbox stream');

  let stopping = false;
  const ops = createOpsServer({
    registry,
    isReady: async () => {
      if (stopping || !publisher.isConnected) return false;
      await client.send(new DescribeTableCommand({ TableName: config.tables.relayState }));
      return true;
    },
  });
  const port = await listen(ops, config.port);

  const stop = sharedPromise(async () => {
    stopping = true;
    await withTimeout(relay.stop(), 15000, 'finishing the batch in flight').catch((error: unknown) =>
      logger.warn({ err: error }, 'relay did not stop in time'),
    );
    await publisher.disconnect().catch((error: unknown) => logger.warn({ err: error }, 'Kafka disconnect failed'));
    await closeServer(ops);
    client.destroy();
    streams.destroy();
    logger.info('outbox-relay stopped');
  });
  return { port, logger, stop };
}
