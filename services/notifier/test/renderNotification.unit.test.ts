import { parseEnvelope } from '@outbox/shared';
import { renderNotification } from '../src/notify/renderNotification';
import { validateOrderEvent } from '../src/notify/validateOrderEvent';
import { orderCancelled, orderCreated } from './support/notifierTestKit';

describe('renderNotification', () => {
  test('When an OrderCreated event is rendered, then the confirmation names the customer, every line and the total', () => {
    const event = orderCreated('order-1');
    event.payload = {
      ...event.payload,
      totalMinor: 2599,
      items: [
        { productId: 'sku-1', quantity: 2, unitPriceMinor: 1250, lineTotalMinor: 2500 },
        { productId: 'sku-2', quantity: 1, unitPriceMinor: 99, lineTotalMinor: 99 },
      ],
    };
    const notification = renderNotification(validateOrderEvent(parseEnvelope(JSON.stringify(event))));
    expect(notification).toMatchObject({
      kind: 'order_confirmation',
      orderId: 'order-1',
      customerId: 'customer-1',
      totalMinor: 2599,
    });
    expect(notification.body).toContain('customer-1');
    expect(notification.body).toContain('- 2 x sku-1 at 12.50 USD = 25.00 USD');
    expect(notification.body).toContain('- 1 x sku-2 at 0.99 USD = 0.99 USD');
    expect(notification.body).toContain('Total: 25.99 USD');
  });

  test('When an OrderCancelled event is rendered, then the notice names the order, the total and the reason', () => {
    const event = orderCancelled('order-2', 2);
    // As order-api publishes it: extra fields a reader may ignore, and the item count it shows.
    event.payload = { ...event.payload, previousStatus: 'CREATED', itemCount: 3 };
    const notification = renderNotification(validateOrderEvent(event));
    expect(notification).toMatchObject({
      kind: 'order_cancellation',
      orderId: 'order-2',
      subject: 'Order order-2 cancelled',
    });
    expect(notification.body).toContain('order-2 of 3 item(s) (total 25.00 USD) has been cancelled');
    expect(notification.body).toContain('Reason: changed my mind.');
  });
});
