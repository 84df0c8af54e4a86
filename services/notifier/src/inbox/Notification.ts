/** One order line as shown in a notification. */
export interface NotificationLine {
  productId: string;
  quantity: number;
  unitPriceMinor: number;
  lineTotalMinor: number;
}

/** A notification ready to store and send. */
export interface Notification {
  kind: 'order_confirmation' | 'order_cancellation';
  customerId: string;
  orderId: string;
  currency: string;
  totalMinor: number;
  items?: NotificationLine[];
  subject: string;
  body: string;
}
