import type { Order } from '../domain/Order';
import { fromMinorUnits } from '../domain/money';

/** The JSON shape of an order in responses: amounts as decimals and as exact minor units. */
export function orderView(order: Order) {
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    status: order.status,
    currency: order.currency,
    total: fromMinorUnits(order.totalMinor),
    totalMinor: order.totalMinor,
    version: order.version,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    items: order.items.map((line) => ({
      productId: line.productId,
      quantity: line.quantity,
      price: fromMinorUnits(line.unitPriceMinor),
      lineTotal: fromMinorUnits(line.lineTotalMinor),
    })),
  };
}
