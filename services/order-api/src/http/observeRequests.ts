import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '@outbox/shared';
import type { ApiMetrics } from './apiMetrics';

/** A request id we accept from the caller; anything else is replaced by a fresh UUID. */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Options for {@link observeRequests}. */
export interface ObserveRequestsOptions {
  logger: Logger;
  metrics: ApiMetrics;
}

/**
 * The first middleware: takes `X-Request-Id` (or makes one), returns it, gives the request a
 * child logger carrying it, and on finish logs one line and observes the duration histogram by
 * route template, method and status. The log line holds no body, query or customer data.
 */
export function observeRequests(options: ObserveRequestsOptions): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    res.locals.requestId = requestId;
    res.locals.log = options.logger.child({ requestId });
    res.locals.route = 'unmatched';
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = String(res.locals.route);
      const status = String(res.statusCode);
      options.metrics.httpDuration.observe({ route, method: req.method, status }, seconds);
      (res.locals.log as Logger).info(
        { method: req.method, route, status: res.statusCode, durationMs: Math.round(seconds * 1000) },
        'request finished',
      );
    });
    next();
  };
}

/** Names the route template for metrics and logs (a path holds ids, a template does not). */
export function routeName(route: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.route = route;
    next();
  };
}
