import { createServer } from 'node:http';
import {
  closeServer,
  createDynamoDbClients,
  createLogger,
  createMetricsRegistry,
  createOpsServer,
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
import { cachedReadiness } from './ops/cachedReadiness';

/** A running order-api. */
export interface OrderApiHandle {
  /** The port of the API (`/orders`, `/openapi.json`). */
  port: number;
  /** The port of `/healthz`, `/readyz` and `/metrics`. */
  opsPort: number;
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
    connectionTimeoutMs: config.aws.connectionTimeoutMs,
    requestTimeoutMs: config.aws.requestTimeoutMs,
  });
  const repository = new OrderRepository({
    doc,
    ordersTable: config.tables.orders,
    outboxTable: config.tables.outbox,
    outboxRetentionDays: config.outboxRetentionDays,
  });
  let stopping = false;
  const tablesReadable = cachedReadiness({
    check: async () => {
      await repository.checkTablesReadable();
      return true;
    },
    intervalMs: config.readinessCacheMs,
  });
  const isReady = async () => !stopping && (await tablesReadable());
  const authenticate = config.auth.mode === 'jwt' ? await createJwtAuthenticator(config.auth) : undefined;
  const app = createApp({
    repository,
    metrics: createApiMetrics(registry),
    logger,
    currency: config.currency,
    maxBodyBytes: config.maxBodyBytes,
    idempotencyTtlSeconds: config.idempotencyTtlSeconds,
    retryAfterSeconds: config.retryAfterSeconds,
    authenticate,
  });
  const server = createServer(app);
  const port = await listen(server, config.port);
  const ops = createOpsServer({ registry, isReady });
  const opsPort = await listen(ops, config.opsPort).catch(async (error: unknown) => {
    await closeServer(server);
    client.destroy();
    throw error;
  });
  logger.info({ port, opsPort, auth: config.auth.mode }, 'order-api listening');

  const stop = sharedPromise(async () => {
    stopping = true;
    await withTimeout(closeServer(server), 10000, 'closing the HTTP server').catch((error: unknown) => {
      logger.warn({ err: error }, 'forcing open connections closed');
      server.closeAllConnections();
    });
    await closeServer(ops);
    client.destroy();
    logger.info('order-api stopped');
  });
  return { port, opsPort, logger, stop };
}
