import { Router, type Request } from 'express';
import { AppError } from '@outbox/shared';
import { placeOrder } from '../domain/placeOrder';
import { orderNotFound } from '../domain/errors';
import type { OrderRepository } from '../data/OrderRepository';
import type { ApiMetrics } from './apiMetrics';
import { orderView } from './orderView';
import { currentTraceparent } from './currentTraceparent';

/** Options for {@link ordersRouter}. */
export interface OrdersRouterOptions {
  repository: OrderRepository;
  metrics: ApiMetrics;
  currency: string;
  now?: () => Date;
}

const ORDER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function requireJson(req: Request): void {
  if (!req.is('application/json')) {
    throw new AppError('request.unsupported_media_type', 'Send the order as application/json', {
      httpStatus: 415,
      details: { contentType: req.get('content-type') ?? null },
    });
  }
}

/** `/orders` routes: place an order, read one. */
export function ordersRouter(options: OrdersRouterOptions): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    requireJson(req);
    const order = await placeOrder(
      req.body,
      {
        saveNewOrder: (o, e) => options.repository.saveNewOrder(o, e),
        currency: options.currency,
        now: options.now,
      },
      { traceparent: currentTraceparent(req) },
    );
    options.metrics.ordersCreated.inc();
    options.metrics.outboxEventsWritten.inc({ event_type: 'OrderCreated' });
    res.status(201).location(`${req.baseUrl}/${order.orderId}`).json(orderView(order));
  });

  router.get('/:orderId', async (req, res) => {
    const { orderId } = req.params;
    if (!ORDER_ID.test(orderId)) throw orderNotFound(orderId);
    const order = await options.repository.findOrder(orderId);
    if (!order) throw orderNotFound(orderId);
    res.json(orderView(order));
  });

  return router;
}
