import { createServer } from 'node:http';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  closeServer,
  createDynamoDbClients,
  createLogger,
  createMetricsRegistry,
  listen,
  sharedPromise,
  withTimeout,
  type Logger,
} from '@outbox/shared';
import type { OrderApiConfig } from './config';
import { createApp } from './http/createApp';
import { createApiMetrics } from './http/apiMetrics';
import { OrderRepository } from './data/OrderRepository';
import { createJwtAuthenticator } from './auth/createJwtAuthenticator';

/** A running order-api. */
export interface OrderApiHandle {
  /** The port it listens on. */
  port: number;
  logger: Logger;
  /** Idempotent: fails readiness, finishes in-flight requests, closes clients. */
  stop(): Promise<void>;
}

/** Builds the clients, wires the app and starts listening. */
export async function start(config: OrderApiConfig): Promise<OrderApiHandle> {
  const logger = createLogger({ service: config.service, level: config.logLevel });
  const registry = createMetricsRegistry({ service: config.service });
  const { client, doc } = createDynamoDbClients({
    region: config.aws.region,
    endpoint: config.aws.dynamodbEndpoint,
    maxAttempts: config.aws.maxAttempts,
  });
  const repository = new OrderRepository({
    doc,
    ordersTable: config.tables.orders,
    outboxTable: config.tables.outbox,
    outboxRetentionDays: config.outboxRetentionDays,
  });
  let stopping = false;
  const isReady = async () => {
    if (stopping) return false;
    await Promise.all(
      [config.tables.orders, config.tables.outbox].map((TableName) =>
        client.send(new DescribeTableCommand({ TableName })),
      ),
    );
    return true;
  };
  const authenticate = config.auth.mode === 'jwt' ? await createJwtAuthenticator(config.auth) : undefined;
  const app = createApp({
    repository,
    registry,
    metrics: createApiMetrics(registry),
    logger,
    currency: config.currency,
    maxBodyBytes: config.maxBodyBytes,
    idempotencyTtlSeconds: config.idempotencyTtlSeconds,
    retryAfterSeconds: config.retryAfterSeconds,
    authenticate,
    isReady,
  });
  const server = createServer(app);
  const port = await listen(server, config.port);
  logger.info({ port, auth: config.auth.mode }, 'order-api listening');

  const stop = sharedPromise(async () => {
    stopping = true;
    await withTimeout(closeServer(server), 10000, 'closing the HTTP server').catch((error: unknown) => {
      logger.warn({ err: error }, 'forcing open connections closed');
      server.closeAllConnections();
    });
    client.destroy();
    logger.info('order-api stopped');
  });
  return { port, logger, stop };
}
