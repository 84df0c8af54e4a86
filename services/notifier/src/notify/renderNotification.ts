import { AppError, type OrderEventEnvelope } from '@outbox/shared';

/** A notification ready to store and send. */
export interface Notification {
  kind: 'order_confirmation' | 'order_cancellation';
  customerId: string;
  orderId: string;
  subject: string;
  body: string;
}

const money = (minor: unknown, currency: unknown) =>
  `${(Number(minor) / 100).toFixed(2)} ${typeof currency === 'string' ? currency : ''}`.trim();

/**
 * Renders the customer notification for an order event. Unknown event types are a permanent
 * failure (`event.unknown_type`), so they go to the dead-letter topic rather than being retried.
 */
export function renderNotification(event: OrderEventEnvelope): Notification {
  const payload = event.payload as Record<string, unknown>;
  const customerId = String(payload.customerId ?? '');
  const orderId = event.aggregateId;
  switch (event.eventType) {
    case 'OrderCreated': {
      const items = Array.isArray(payload.items) ? payload.items : [];
      return {
        kind: 'order_confirmation',
        customerId,
        orderId,
        subject: `Order ${orderId} confirmed`,
        body: `Thank you for your order of ${items.length} item(s), total ${money(payload.totalMinor, payload.currency)}.`,
      };
    }
    case 'OrderCancelled':
      return {
        kind: 'order_cancellation',
        customerId,
        orderId,
        subject: `Order ${orderId} cancelled`,
        body: `Your order ${orderId} has been cancelled.`,
      };
    default:
      throw new AppError('event.unknown_type', `No notification for event type ${event.eventType}`);
  }
}
