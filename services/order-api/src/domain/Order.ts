/** Order lifecycle states. */
export type OrderStatus = 'CREATED' | 'CANCELLED';

/** One order line; money in integer minor units. */
export interface OrderLine {
  lineNo: number;
  productId: string;
  quantity: number;
  unitPriceMinor: number;
  lineTotalMinor: number;
}

/** The order aggregate. `version` is also the `seq` of its latest outbox event. */
export interface Order {
  orderId: string;
  customerId: string;
  status: OrderStatus;
  currency: string;
  totalMinor: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  items: OrderLine[];
}
