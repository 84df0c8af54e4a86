import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import { AppError, type Logger } from '@outbox/shared';
import type { OrderRepository } from '../data/OrderRepository';
import type { ApiMetrics } from './apiMetrics';
import { ordersRouter } from './ordersRouter';
import { problemHandler } from './problem';

/** Everything the Express app needs, built by `main.ts` (or a test). */
export interface CreateAppOptions {
  repository: OrderRepository;
  registry: Registry;
  metrics: ApiMetrics;
  logger: Logger;
  currency: string;
  maxBodyBytes: number;
  /** True while DynamoDB answers; drives `/readyz`. */
  isReady: () => Promise<boolean>;
  now?: () => Date;
}

/** Builds the order-api Express app without listening, so supertest can drive it. */
export function createApp(options: CreateAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    const end = options.metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      // The route template, not the raw path, so ids do not explode label cardinality.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ route, status: String(res.statusCode) });
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await options.isReady().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(options.registry.contentType).send(await options.registry.metrics());
  });

  app.use(express.json({ limit: options.maxBodyBytes, type: 'application/json' }));
  app.use(
    '/orders',
    ordersRouter({ repository: options.repository, metrics: options.metrics, currency: options.currency, now: options.now }),
  );
  app.use((req, _res, next) => {
    next(new AppError('route.not_found', `No route for ${req.method} ${req.path}`, { httpStatus: 404 }));
  });
  app.use(problemHandler(options.logger));
  return app;
}
