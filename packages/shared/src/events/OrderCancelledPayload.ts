/**
 * Payload of `OrderCancelled` (envelope `seq` = the order's new version). Carries enough for a
 * consumer to render a cancellation notice without reading the order: money in minor units.
 */
export interface OrderCancelledPayload {
  orderId: string;
  customerId: string;
  /** Always `CANCELLED`. */
  status: string;
  /** The state the order left. */
  previousStatus: string;
  currency: string;
  totalMinor: number;
  itemCount: number;
  /** ISO-8601 time of the cancellation (equals the envelope's `occurredAt`). */
  cancelledAt: string;
  /** The customer's or operator's reason, when one was given. */
  reason?: string;
}
