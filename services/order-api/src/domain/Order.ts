/** Order lifecycle states. */
export type OrderStatus = 'CREATED' | 'CANCELLED';

/** The states an order may be cancelled from. */
export const CANCELLABLE_STATUSES: readonly OrderStatus[] = ['CREATED'];

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
  /** Number of lines (kept on the order so listings need not read the lines). */
  itemCount: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  cancelledAt?: string;
  cancelReason?: string;
  /** The lines; empty in listings, which read only the order record. */
  items: OrderLine[];
}
