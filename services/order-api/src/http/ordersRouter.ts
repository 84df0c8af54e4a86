import { Router, type Request, type RequestHandler } from 'express';
import { AppError } from '@outbox/shared';
import { placeOrder } from '../domain/placeOrder';
import { cancelOrder } from '../domain/cancelOrder';
import { WriteConflictError, orderNotFound } from '../domain/errors';
import type { OrderRepository } from '../data/OrderRepository';
import type { Order } from '../domain/Order';
import type { ApiMetrics } from './apiMetrics';
import { orderSummaryView, orderView } from './orderView';
import { currentTraceHeaders } from './currentTraceHeaders';
import { respondIdempotently, type HttpResult, type IdempotencyOptions } from './idempotency';
import { encodeCursor, parseListOrdersQuery } from './listOrdersQuery';
import { routeName } from './observeRequests';
import { exactJsonBody, numberTextOf } from './exactJsonBody';
import { callerOf } from './authentication';
import { assertMayActFor, visibleTo } from '../domain/access';

/** Options for {@link ordersRouter}. */
export interface OrdersRouterOptions {
  repository: OrderRepository;
  metrics: ApiMetrics;
  currency: string;
  maxBodyBytes: number;
  /** Seconds an `Idempotency-Key` is remembered. */
  idempotencyTtlSeconds: number;
  now?: () => Date;
}

const ORDER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** 415 unless the body is JSON; a request without a body passes when `optional`. */
function requireJson(optional: boolean): RequestHandler {
  return (req, _res, next) => {
    const hasBody =
      req.get('content-type') !== undefined ||
      Number(req.get('content-length') ?? 0) > 0 ||
      req.get('transfer-encoding') !== undefined;
    if ((optional && !hasBody) || req.is('application/json')) return next();
    throw new AppError('request.unsupported_media_type', 'Send the request body as application/json', {
      httpStatus: 415,
      details: { contentType: req.get('content-type') ?? null },
    });
  };
}

/**
 * Answers a method the path does not support: 405 with `Allow` (RFC 9110), or, for `OPTIONS`,
 * 204 with `Allow`. Registered after a path's routes, so it sees only the other methods.
 */
function otherMethods(...allowed: string[]): RequestHandler {
  const allow = [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
  return (req, res) => {
    res.setHeader('Allow', allow);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    throw new AppError(
      'request.method_not_allowed',
      `${req.method} is not supported here; use ${allowed.join(' or ')}`,
      {
        httpStatus: 405,
        details: { allowedMethods: allowed },
      },
    );
  };
}

/** Counts transactions lost to concurrent writers, then lets the error go on. */
function countingConflicts<T>(metrics: ApiMetrics, operation: 'create' | 'cancel', write: Promise<T>): Promise<T> {
  return write.catch((error: unknown) => {
    if (error instanceof WriteConflictError) metrics.transactionConflicts.inc({ operation, reason: error.reason });
    throw error;
  });
}

/** `/orders` routes: place, list, read and cancel orders. */
export function ordersRouter(options: OrdersRouterOptions): Router {
  const router = Router();
  const { repository, metrics } = options;
  const now = options.now ?? (() => new Date());
  // Not express.json(): prices are read from the body's decimal text, which JSON.parse alone drops.
  const jsonBody = exactJsonBody({ limit: options.maxBodyBytes });
  const idempotency: IdempotencyOptions = {
    findRecord: (key, scope) => repository.findIdempotencyRecord(key, scope),
    ttlSeconds: options.idempotencyTtlSeconds,
    now,
    onReplay: () => metrics.idempotentReplays.inc(),
  };
  const orderIdOf = (req: Request) => {
    const orderId = String(req.params.orderId);
    if (!ORDER_ID.test(orderId)) throw orderNotFound(orderId);
    return orderId.toLowerCase();
  };

  const created = (order: Order, req: Request): HttpResult => ({
    status: 201,
    body: orderView(order),
    headers: { location: `${req.baseUrl}/${order.orderId}` },
  });

  router.post('/', routeName('/orders'), requireJson(false), ...jsonBody, async (req, res) => {
    await respondIdempotently(req, res, idempotency, async (remember) => {
      const order = await placeOrder(
        req.body,
        {
          // The response is known before the write, so it commits with the order as the key's record.
          saveNewOrder: (o, event) =>
            countingConflicts(metrics, 'create', repository.saveNewOrder(o, event, remember?.(created(o, req)))),
          currency: options.currency,
          now,
        },
        { ...currentTraceHeaders(req), caller: callerOf(res), numberText: numberTextOf },
      );
      metrics.ordersCreated.inc();
      metrics.outboxEventsWritten.inc({ event_type: 'OrderCreated' });
      return created(order, req);
    });
  });

  router.get('/', routeName('/orders'), async (req, res) => {
    const query = parseListOrdersQuery(req.query);
    assertMayActFor(callerOf(res), query.customerId);
    const page = await repository.listOrdersByCustomer(query.customerId, query.limit, query.startKey);
    res.json({
      orders: page.orders.map(orderSummaryView),
      ...(page.nextKey ? { nextCursor: encodeCursor(page.nextKey) } : {}),
    });
  });

  router.get('/:orderId', routeName('/orders/:orderId'), async (req, res) => {
    const orderId = orderIdOf(req);
    const order = visibleTo(callerOf(res), await repository.findOrder(orderId));
    if (!order) throw orderNotFound(orderId);
    res.json(orderView(order));
  });

  router.post(
    '/:orderId/cancel',
    routeName('/orders/:orderId/cancel'),
    requireJson(true),
    ...jsonBody,
    async (req, res) => {
      const orderId = orderIdOf(req);
      await respondIdempotently(req, res, idempotency, async (remember) => {
        const order = await cancelOrder(
          orderId,
          req.body,
          {
            findOrder: (id) => repository.findOrder(id),
            saveCancellation: (previous, next, event) =>
              countingConflicts(
                metrics,
                'cancel',
                repository.saveCancellation(previous, next, event, remember?.({ status: 200, body: orderView(next) })),
              ),
            now,
          },
          { ...currentTraceHeaders(req), caller: callerOf(res) },
        );
        metrics.ordersCancelled.inc();
        metrics.outboxEventsWritten.inc({ event_type: 'OrderCancelled' });
        return { status: 200, body: orderView(order) };
      });
    },
  );

  router.all('/', routeName('/orders'), otherMethods('GET', 'POST'));
  router.all('/:orderId', routeName('/orders/:orderId'), otherMethods('GET'));
  router.all('/:orderId/cancel', routeName('/orders/:orderId/cancel'), otherMethods('POST'));
  return router;
}
