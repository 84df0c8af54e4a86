import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import {
  closeServer,
  createDynamoDbClients,
  createDynamoDbStreamsClient,
  createKafka,
  createKinesisClient,
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
import { LeaderLease } from './lease/LeaderLease';
import { OutboxBackfill } from './backfill/OutboxBackfill';
import { DynamoDbStreamSource } from './source/DynamoDbStreamSource';
import { KinesisSource } from './source/KinesisSource';
import type { ChangeSource } from './source/StreamShard';
import { KafkaPublisher } from './publish/KafkaPublisher';
import { Relay } from './relay/Relay';
import { createRelayMetrics } from './relay/relayMetrics';

/** A running relay. */
export interface RelayHandle {
  port: number;
  logger: Logger;
  /** True while this instance holds the leader lease. */
  isLeader(): boolean;
  /** Idempotent: finishes the batch in flight, checkpoints, releases the lease, disconnects. */
  stop(): Promise<void>;
}

/** Test seams for {@link start}; production passes none. */
export interface RelayDeps {
  /** Wraps the Kafka client (tests force producer errors no real broker produces on demand). */
  wrapKafka?: (kafka: Kafka) => Kafka;
}

/**
 * Builds the clients, starts competing for the leader lease, and relays the outbox stream while
 * it leads. A standby is ready (`/readyz` 200) as soon as its dependencies answer: it is doing its
 * job, which is to stand by; `relay_leader` tells which instance leads.
 */
export async function start(config: RelayConfig, deps: RelayDeps = {}): Promise<RelayHandle> {
  const logger = createLogger({ service: config.service, level: config.logLevel }).child({ relayId: config.relayId });
  const registry = createMetricsRegistry({ service: config.service });
  const metrics = createRelayMetrics(registry);
  const { client, doc } = createDynamoDbClients({ region: config.aws.region, endpoint: config.aws.dynamodbEndpoint });
  const streams = createDynamoDbStreamsClient({ region: config.aws.region, endpoint: config.aws.streamsEndpoint });
  // kafkajs' own retries stay within the relay's backoff cap; the relay loop retries beyond that.
  const baseKafka = createKafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    logger,
    retry: { initialRetryTime: config.publishRetry.initialMs, maxRetryTime: config.publishRetry.maxMs, retries: 5 },
  });
  const kafka = deps.wrapKafka ? deps.wrapKafka(baseKafka) : baseKafka;
  const publisher = new KafkaPublisher({
    kafka,
    topic: config.kafka.topic,
    transactionalId: config.kafka.transactionalId,
    maxRequestBytes: config.kafka.maxRequestBytes,
  });

  // Fails fast on a missing stream; later the relay follows the table's latest stream.
  let streamArn: string;
  let resolveStreamArn: () => Promise<string | undefined>;
  let sourceFor: (arn: string) => ChangeSource;
  const closers: (() => void)[] = [];
  if (config.source.kind === 'kinesis') {
    const kinesis = createKinesisClient({ region: config.aws.region, endpoint: config.aws.kinesisEndpoint });
    closers.push(() => kinesis.destroy());
    const streamName = config.source.streamName;
    streamArn = await KinesisSource.streamArnOf(kinesis, streamName);
    resolveStreamArn = async () => streamArn;
    sourceFor = (arn) => new KinesisSource({ kinesis, streamName, streamArn: arn });
  } else {
    streamArn = await DynamoDbStreamSource.latestStreamArn(client, config.tables.outbox);
    resolveStreamArn = () => DynamoDbStreamSource.currentStreamArn(client, config.tables.outbox);
    sourceFor = (arn) => new DynamoDbStreamSource({ streams, streamArn: arn });
  }
  // A transactional producer fences whoever used the id before: connect it only when leading.
  if (!publisher.transactional) await publisher.connect();
  const lease = new LeaderLease({
    doc,
    table: config.tables.relayState,
    leaseName: config.tables.outbox,
    owner: config.relayId,
    leaseDurationMs: config.lease.durationMs,
    renewIntervalMs: config.lease.renewIntervalMs,
    logger,
    metrics: { leader: metrics.leader, acquisitions: metrics.leaseAcquisitions, losses: metrics.leaseLosses },
    // Called only after start(), when `relay` exists.
    onChange: () => relay.wake(),
  });
  const relay = new Relay({
    resolveStreamArn,
    sourceFor,
    checkpoints: new CheckpointStore({ doc, table: config.tables.relayState, relayName: config.tables.outbox }),
    backfill: new OutboxBackfill({ doc, table: config.tables.outbox, segments: config.backfill.scanSegments }),
    backfillOverlapMs: config.backfill.overlapMs,
    publisher,
    lease,
    metrics,
    logger,
    batchSize: config.batchSize,
    pollIdleMaxMs: config.pollIdleMaxMs,
    failureBackoff: config.publishRetry,
    shardRefreshMs: config.shardRefreshMs,
  });
  lease.start();
  relay.start();
  logger.info(
    { source: config.source.kind, streamArn, topic: config.kafka.topic },
    'relay started; competing for the lease',
  );

  let stopping = false;
  const ops = createOpsServer({
    registry,
    isReady: async () => {
      if (stopping) return false;
      if (!publisher.transactional && !publisher.isConnected) return false;
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
    // Released only after the last checkpoint, so a standby starts exactly where this one ended.
    await withTimeout(lease.release(), 5000, 'releasing the lease').catch((error: unknown) =>
      logger.warn({ err: error }, 'lease release did not finish'),
    );
    await publisher.disconnect().catch((error: unknown) => logger.warn({ err: error }, 'Kafka disconnect failed'));
    await closeServer(ops);
    client.destroy();
    streams.destroy();
    for (const close of closers) close();
    logger.info('outbox-relay stopped');
  });
  return { port, logger, isLeader: () => lease.isLeader(), stop };
}
