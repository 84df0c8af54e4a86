import express, { type Express } from 'express';
import { AppError, type Logger } from '@outbox/shared';
import type { OrderRepository } from '../data/OrderRepository';
import type { ApiMetrics } from './apiMetrics';
import type { Authenticator } from '../auth/Authenticator';
import { requireBearerToken } from './authentication';
import { observeRequests, routeName } from './observeRequests';
import { openApiDocument } from './openApiDocument';
import { ordersRouter } from './ordersRouter';
import { problemHandler } from './problem';

/** Everything the Express app needs, built by `main.ts` (or a test). */
export interface CreateAppOptions {
  repository: OrderRepository;
  metrics: ApiMetrics;
  logger: Logger;
  currency: string;
  maxBodyBytes: number;
  /** Seconds an `Idempotency-Key` is remembered; 24 h by default. */
  idempotencyTtlSeconds?: number;
  /** Seconds a retriable 503/409 asks clients to wait; 1 by default. */
  retryAfterSeconds?: number;
  /** When set, every `/orders` request needs a bearer token this accepts (401 otherwise). */
  authenticate?: Authenticator;
  now?: () => Date;
}

/** Builds the order-api's public Express app without listening, so supertest can drive it. */
export function createApp(options: CreateAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(observeRequests({ logger: options.logger, metrics: options.metrics }));

  // `/healthz`, `/readyz` and `/metrics` live on the ops port (see start.ts), never here.
  const document = openApiDocument({
    authEnabled: options.authenticate !== undefined,
    maxBodyBytes: options.maxBodyBytes,
  });
  app.get('/openapi.json', routeName('/openapi.json'), (_req, res) => {
    res.json(document);
  });

  // Authentication runs before any body is read: an unauthenticated request costs no parsing.
  if (options.authenticate) app.use('/orders', requireBearerToken(options.authenticate));
  app.use(
    '/orders',
    ordersRouter({
      repository: options.repository,
      metrics: options.metrics,
      currency: options.currency,
      maxBodyBytes: options.maxBodyBytes,
      idempotencyTtlSeconds: options.idempotencyTtlSeconds ?? 24 * 3600,
      now: options.now,
    }),
  );
  app.use((req, _res, next) => {
    next(new AppError('route.not_found', `No route for ${req.method} ${req.path}`, { httpStatus: 404 }));
  });
  app.use(problemHandler(options.logger, { retryAfterSeconds: options.retryAfterSeconds }));
  return app;
}
