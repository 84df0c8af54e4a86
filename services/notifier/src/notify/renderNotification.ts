import type { Notification } from '../inbox/Notification';
import type { OrderCreated, ValidOrderEvent } from './validateOrderEvent';

/** Formats integer minor units, e.g. `2500, 'USD'` as `25.00 USD` (two fraction digits, as the API stores). */
export function formatMoney(minor: number, currency: string): string {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')} ${currency}`;
}

function lineText(line: OrderCreated['items'][number], currency: string): string {
  return `- ${line.quantity} x ${line.productId} at ${formatMoney(line.unitPriceMinor, currency)} = ${formatMoney(line.lineTotalMinor, currency)}`;
}

/** Renders the customer notification for a validated order event (pure; no I/O). */
export function renderNotification(event: ValidOrderEvent): Notification {
  const { payload } = event;
  const total = formatMoney(payload.totalMinor, payload.currency);
  if (event.type === 'OrderCreated') {
    const items = event.payload.items;
    return {
      kind: 'order_confirmation',
      customerId: payload.customerId,
      orderId: payload.orderId,
      currency: payload.currency,
      totalMinor: payload.totalMinor,
      items: items.map(({ productId, quantity, unitPriceMinor, lineTotalMinor }) => ({
        productId,
        quantity,
        unitPriceMinor,
        lineTotalMinor,
      })),
      subject: `Order ${payload.orderId} confirmed`,
      body: [
        `Hello ${payload.customerId},`,
        `thank you for your order ${payload.orderId} of ${items.length} item(s):`,
        ...items.map((line) => lineText(line, payload.currency)),
        `Total: ${total}`,
      ].join('\n'),
    };
  }
  const reason = event.payload.reason ? ` Reason: ${event.payload.reason}.` : '';
  const items = event.payload.itemCount === undefined ? '' : ` of ${event.payload.itemCount} item(s)`;
  return {
    kind: 'order_cancellation',
    customerId: payload.customerId,
    orderId: payload.orderId,
    currency: payload.currency,
    totalMinor: payload.totalMinor,
    subject: `Order ${payload.orderId} cancelled`,
    body: [
      `Hello ${payload.customerId},`,
      `your order ${payload.orderId}${items} (total ${total}) has been cancelled.${reason}`,
    ].join('\n'),
  };
}
