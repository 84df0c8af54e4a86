import { z } from 'zod';
import type { Order } from '../domain/Order';
import { fromMinorUnits } from '../domain/money';

const amount = z.number().meta({ description: 'Decimal amount (exactly the minor units / 100)' });
const minor = z.number().int().meta({ description: 'Exact amount in integer minor units (cents)' });

const orderFields = {
  orderId: z.uuid(),
  customerId: z.uuid(),
  status: z.enum(['CREATED', 'CANCELLED']),
  currency: z.string().regex(/^[A-Z]{3}$/),
  total: amount,
  totalMinor: minor,
  itemCount: z.number().int().min(1),
  version: z.number().int().min(1).meta({ description: 'Aggregate version; equals the seq of its latest event' }),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  cancelledAt: z.iso.datetime().optional(),
  cancelReason: z.string().optional(),
};

/** An order as `GET /orders/:id`, `POST /orders` and cancel answer it. */
export const orderResponse = z.strictObject({
  ...orderFields,
  items: z.array(
    z.strictObject({
      productId: z.string(),
      quantity: z.number().int(),
      price: amount,
      priceMinor: minor,
      lineTotal: amount,
      lineTotalMinor: minor,
    }),
  ),
});

/** An order in a listing: the order record without its lines. */
export const orderSummaryResponse = z.strictObject(orderFields);

/** A page of `GET /orders`. */
export const orderListResponse = z.strictObject({
  orders: z.array(orderSummaryResponse),
  nextCursor: z
    .string()
    .optional()
    .meta({ description: 'Opaque; pass as `cursor` for the next page. Absent on the last page.' }),
});

function summaryFields(order: Order) {
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    status: order.status,
    currency: order.currency,
    total: fromMinorUnits(order.totalMinor),
    totalMinor: order.totalMinor,
    itemCount: order.itemCount,
    version: order.version,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    ...(order.cancelledAt === undefined ? {} : { cancelledAt: order.cancelledAt }),
    ...(order.cancelReason === undefined ? {} : { cancelReason: order.cancelReason }),
  };
}

/** The JSON shape of an order in responses: amounts as decimals and as exact minor units. */
export function orderView(order: Order): z.infer<typeof orderResponse> {
  return {
    ...summaryFields(order),
    items: order.items.map((line) => ({
      productId: line.productId,
      quantity: line.quantity,
      price: fromMinorUnits(line.unitPriceMinor),
      priceMinor: line.unitPriceMinor,
      lineTotal: fromMinorUnits(line.lineTotalMinor),
      lineTotalMinor: line.lineTotalMinor,
    })),
  };
}

/** The JSON shape of an order in a listing. */
export function orderSummaryView(order: Order): z.infer<typeof orderSummaryResponse> {
  return summaryFields(order);
}
