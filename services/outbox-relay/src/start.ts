import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import {
  AppError,
  closeServer,
  exponentialBackoff,
  createDynamoDbClients,
  createDynamoDbStreamsClient,
  createKafka,
  ensureTopics,
  createKinesisClient,
  createLogger,
  createMetricsRegistry,
  createOpsServer,
  listen,
  sharedPromise,
  topicDefinitions,
  withTimeout,
  type Logger,
} from '@outbox/shared';
import type { RelayConfig } from './config';
import { CheckpointStore } from './checkpoint/CheckpointStore';
import { LeaderLease } from './lease/LeaderLease';
import { ShardLeases } from './lease/ShardLeases';
import { OutboxBackfill } from './backfill/OutboxBackfill';
import { DynamoDbStreamSource } from './source/DynamoDbStreamSource';
import { currentOutboxStream, enabledOutboxStream } from './setup/outboxStream';
import { KinesisSource } from './source/KinesisSource';
import type { ChangeSource } from './source/StreamShard';
import { ReadAheadSource } from './source/ReadAheadSource';
import { KafkaPublisher } from './publish/KafkaPublisher';
import { Relay, type PublisherPool } from './relay/Relay';
import { createRelayMetrics } from './relay/relayMetrics';

/** A running relay. */
export interface RelayHandle {
  port: number;
  logger: Logger;
  /** True while this instance leads at least one shard or holds the coordinator lease. */
  isLeader(): boolean;
  /** How many shard leases this instance holds now. */
  shardsOwned(): number;
  /** Idempotent: finishes the batches in flight, checkpoints, releases the leases, disconnects. */
  stop(): Promise<void>;
}

/** Test seams for {@link start}; production passes none. */
export interface RelayDeps {
  /** Wraps the Kafka client (tests force producer errors no real broker produces on demand). */
  wrapKafka?: (kafka: Kafka) => Kafka;
  /** Wraps each stream reader, below the read-ahead (tests watch the reads that reach the stream). */
  wrapSource?: (source: ChangeSource) => ChangeSource;
}

/**
 * Builds the clients, starts competing for the shard leases and the coordinator lease, and relays
 * the shards it leads. An instance is ready (`/readyz` 200) as soon as its dependencies answer,
 * whether it leads shards or stands by; `relay_shards_owned` tells how many shards it leads and
 * `relay_leader` whether it is the coordinator.
 */
export async function start(config: RelayConfig, deps: RelayDeps = {}): Promise<RelayHandle> {
  const logger = createLogger({ service: config.service, level: config.logLevel }).child({ relayId: config.relayId });
  const registry = createMetricsRegistry({ service: config.service });
  const metrics = createRelayMetrics(registry);
  const timeouts = {
    connectionTimeoutMs: config.timeouts.awsConnectionMs,
    requestTimeoutMs: config.timeouts.awsRequestMs,
  };
  const { client, doc } = createDynamoDbClients({
    region: config.aws.region,
    endpoint: config.aws.dynamodbEndpoint,
    ...timeouts,
  });
  const closers: (() => void)[] = [];
  const leaseClients = createDynamoDbClients({
    region: config.aws.region,
    endpoint: config.aws.dynamodbEndpoint,
    connectionTimeoutMs: config.timeouts.leaseConnectionMs,
    requestTimeoutMs: config.timeouts.leaseRequestMs,
  });
  closers.push(() => leaseClients.client.destroy());
  const streams = createDynamoDbStreamsClient({
    region: config.aws.region,
    endpoint: config.aws.streamsEndpoint,
    ...timeouts,
  });
  // kafkajs' own retries stay within the relay's backoff cap; the relay loop retries beyond that.
  const baseKafka = createKafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    security: config.kafka.security,
    logger,
    connectionTimeout: config.timeouts.kafkaConnectionMs,
    requestTimeout: config.timeouts.kafkaRequestMs,
    retry: { initialRetryTime: config.publishRetry.initialMs, maxRetryTime: config.publishRetry.maxMs, retries: 5 },
  });
  const kafka = deps.wrapKafka ? deps.wrapKafka(baseKafka) : baseKafka;
  const publisherOf = (transactionalId: string | undefined) =>
    new KafkaPublisher({
      kafka,
      topic: config.kafka.topic,
      transactionalId,
      maxRequestBytes: config.kafka.maxRequestBytes,
      ackTimeoutMs: config.timeouts.kafkaRequestMs,
      lanes: config.kafka.publishLanes,
      activeLanes: () => lanesPerShard(),
    });
  // Tells whether Kafka answers (setup, readiness); it never publishes.
  const publisher = publisherOf(undefined);
  // One producer per led shard (and one for the coordinator's backfills): a shard's producer
  // failing or being reset does not touch the others; in transactional mode the id names the
  // shard, so the shard's next owner fences the previous one.
  const shardPublishers = new Map<string, KafkaPublisher>();
  // The lanes are shared among the publishers in use (one per shard led): one shard spreads each
  // batch over all of them; many shards, each with its own batch in flight, send fewer, larger
  // requests (less CPU per record) instead of multiplying small ones.
  const lanesPerShard = () => Math.ceil(config.kafka.publishLanes / Math.max(1, shardPublishers.size));
  const publishers: PublisherPool = {
    acquire(key) {
      let found = shardPublishers.get(key);
      if (!found) {
        const { transactionalId } = config.kafka;
        found = publisherOf(transactionalId === undefined ? undefined : `${transactionalId}-${key}`);
        shardPublishers.set(key, found);
      }
      return found;
    },
    async release(key) {
      const found = shardPublishers.get(key);
      shardPublishers.delete(key);
      await found?.disconnect();
    },
  };

  // The stream to start from: found during setup (which waits out a missing stream), then the
  // relay follows the table's latest stream.
  let streamArn: string | undefined;
  let findStream: () => Promise<string>;
  let resolveStreamArn: () => Promise<string | undefined>;
  let readerFor: (arn: string) => ChangeSource;
  if (config.source.kind === 'kinesis') {
    const kinesis = createKinesisClient({
      region: config.aws.region,
      endpoint: config.aws.kinesisEndpoint,
      ...timeouts,
    });
    closers.push(() => kinesis.destroy());
    const streamName = config.source.streamName;
    findStream = () => KinesisSource.streamArnOf(kinesis, streamName);
    resolveStreamArn = async () => streamArn;
    readerFor = (arn) => new KinesisSource({ kinesis, streamName, streamArn: arn });
  } else {
    findStream = () => enabledOutboxStream(client, config.tables.outbox);
    resolveStreamArn = () => currentOutboxStream(client, config.tables.outbox);
    readerFor = (arn) => new DynamoDbStreamSource({ streams, streamArn: arn });
  }
  // Per shard, the next read overlaps the publish of the current batch (see ReadAheadSource).
  const reader = (arn: string) => (deps.wrapSource ? deps.wrapSource(readerFor(arn)) : readerFor(arn));
  const sourceFor = config.readAhead
    ? (arn: string) => new ReadAheadSource(reader(arn), { maxShards: config.readAheadShards })
    : reader;
  // The coordinator follows the table's stream (and backfills a replacement); shards are leased apart.
  const lease = new LeaderLease({
    doc: leaseClients.doc,
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
  const shardLeases = new ShardLeases({
    doc: leaseClients.doc,
    table: config.tables.relayState,
    groupName: config.tables.outbox,
    owner: config.relayId,
    leaseDurationMs: config.lease.durationMs,
    renewIntervalMs: config.lease.renewIntervalMs,
    scanIntervalMs: config.lease.scanIntervalMs,
    stealIntervalMs: config.lease.stealIntervalMs,
    logger,
    metrics: {
      shardsOwned: metrics.shardsOwned,
      acquisitions: metrics.shardLeaseAcquisitions,
      losses: metrics.shardLeaseLosses,
    },
    onChange: () => relay.wake(),
  });
  const relay = new Relay({
    resolveStreamArn,
    sourceFor,
    checkpoints: new CheckpointStore({ doc, table: config.tables.relayState, relayName: config.tables.outbox }),
    backfill: new OutboxBackfill({
      doc,
      table: config.tables.outbox,
      lookBackMs: config.backfill.lookBackMs,
      lookAheadMs: config.backfill.lookAheadMs,
    }),
    backfillOverlapMs: config.backfill.overlapMs,
    publishers,
    coordinator: lease,
    leases: shardLeases,
    metrics,
    logger,
    checkpointIntervalMs: config.checkpoint.intervalMs,
    checkpointMaxRecords: config.checkpoint.maxRecords,
    batchSize: config.batchSize,
    maxRecordsInFlight: config.maxRecordsInFlight,
    readAheadShards: config.readAhead ? config.readAheadShards : 0,
    pollIdleMaxMs: config.pollIdleMaxMs,
    failureBackoff: config.publishRetry,
    shardRefreshMs: config.shardRefreshMs,
    stallTimeoutMs: config.stallTimeoutMs,
  });
  let stopping = false;
  /** Set once the stream was found and Kafka answered: only then does this instance compete. */
  let setUp = false;
  /** Why setup gave up (a wrong setup no wait can fix); reported by `/healthz`. */
  let setupFailure: string | undefined;
  const trySetup = async () => {
    // Idempotent, so repeating it while Kafka is away is harmless; a drifted topic is permanent.
    if (config.kafka.ensureTopics) {
      await ensureTopics({ kafka, definitions: topicDefinitions(config.kafka.topics), logger });
    }
    streamArn = await findStream();
    await publisher.connect();
  };
  const begin = () => {
    setUp = true;
    lease.start();
    shardLeases.start();
    relay.start();
    logger.info(
      { source: config.source.kind, streamArn, topic: config.kafka.topic },
      'relay started; competing for the leases',
    );
  };
  const isPermanent = (error: unknown) => error instanceof AppError && !error.retriable;
  try {
    await trySetup();
    begin();
  } catch (error) {
    // A wrong setup fails the start with its clear error; an outage is waited out.
    if (isPermanent(error)) {
      await publisher.disconnect().catch(() => undefined);
      client.destroy();
      streams.destroy();
      for (const close of closers) close();
      throw error;
    }
    const delay = exponentialBackoff(config.publishRetry);
    logger.warn({ err: error }, 'stream or Kafka not available at start; waiting as a not-ready standby');
    void (async () => {
      for (let attempt = 1; !stopping; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, delay(attempt)).unref());
        if (stopping) return;
        try {
          await trySetup();
          if (!stopping) begin();
          return;
        } catch (retryError) {
          if (isPermanent(retryError)) {
            setupFailure = (retryError as Error).message;
            logger.error({ err: retryError }, 'setup cannot succeed; reporting unhealthy');
            return;
          }
          logger.warn({ err: retryError, attempt }, 'stream or Kafka still not available; waiting');
        }
      }
    })();
  }

  // A stalled leader steps down for good and reports unhealthy, so the orchestrator replaces it.
  let stalled: string | undefined;
  const watchdog = setInterval(
    () => {
      if (stalled !== undefined || stopping) return;
      const reason = relay.stallReason();
      if (reason === undefined) return;
      stalled = reason;
      logger.error(
        { reason, stallTimeoutMs: config.stallTimeoutMs },
        'no progress with records pending; releasing the leases and reporting unhealthy so this instance is replaced',
      );
      shardLeases.stopTaking();
      // The coordinator's duties need no final checkpoint: hand them over at once.
      void lease.release();
      void (async () => {
        await withTimeout(relay.stop(), config.lease.durationMs, 'stopping the stalled loop').catch((error: unknown) =>
          logger.warn({ err: error }, 'stalled loop did not stop in time'),
        );
        await shardLeases.stop();
        await lease.release();
      })();
    },
    Math.min(1000, Math.floor(config.stallTimeoutMs / 4)),
  );
  watchdog.unref();
  const ops = createOpsServer({
    registry,
    unhealthyReason: () => stalled ?? setupFailure,
    isReady: async () => {
      if (stopping || !setUp || stalled !== undefined) return false;
      if (!publisher.isConnected) return false;
      await client.send(new DescribeTableCommand({ TableName: config.tables.relayState }));
      return true;
    },
  });
  const port = await listen(ops, config.port);

  const stop = sharedPromise(async () => {
    stopping = true;
    clearInterval(watchdog);
    shardLeases.stopTaking();
    // Each shard loop stores its last checkpoint and hands its lease back, so the next owner
    // starts exactly where this one ended.
    await withTimeout(relay.stop(), 15000, 'finishing the batches in flight').catch((error: unknown) =>
      logger.warn({ err: error }, 'relay did not stop in time'),
    );
    await withTimeout(Promise.all([shardLeases.stop(), lease.release()]), 5000, 'releasing the leases').catch(
      (error: unknown) => logger.warn({ err: error }, 'lease release did not finish'),
    );
    await Promise.all(
      [publisher, ...shardPublishers.values()].map((each) =>
        each.disconnect().catch((error: unknown) => logger.warn({ err: error }, 'Kafka disconnect failed')),
      ),
    );
    await closeServer(ops);
    client.destroy();
    streams.destroy();
    for (const close of closers) close();
    logger.info('outbox-relay stopped');
  });
  return { port, logger, isLeader: () => relay.isLeading(), shardsOwned: () => shardLeases.ownedCount, stop };
}
