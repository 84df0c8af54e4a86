import { randomUUID } from 'node:crypto';
import {
  ENVELOPE_SCHEMA_VERSION,
  newOrderEvent,
  type OrderCancelledPayload,
  type OrderEventEnvelope,
} from '@outbox/shared';
import { CANCELLABLE_STATUSES, type Order } from './Order';
import { ValidationError, WriteConflictError, invalidState, orderNotFound, versionConflict } from './errors';
import { cancelOrderInput } from './cancelOrderInput';
import { fieldErrorsOf } from './fieldErrorsOf';
import type { Caller } from './Caller';
import { visibleTo } from './access';

/** What cancelling needs from outside. */
export interface CancelOrderDeps {
  findOrder(orderId: string): Promise<Order | undefined>;
  /**
   * Writes `next` only if the stored order is still at `previous.version`, together with the
   * event; throws {@link WriteConflictError} when it lost a race.
   */
  saveCancellation(previous: Order, next: Order, event: OrderEventEnvelope<OrderCancelledPayload>): Promise<void>;
  now?: () => Date;
  newId?: () => string;
  /** Attempts when DynamoDB reports a transaction conflict (not a condition failure); default 3. */
  maxAttempts?: number;
}

/** Extra request context that travels into the event. */
export interface CancelOrderContext {
  traceparent?: string;
  tracestate?: string;
  /** Who cancels (authentication on): another customer's order is not found for it. */
  caller?: Caller;
}

/**
 * Cancels an order: reads it (another customer's order is "not found" for the caller), checks
 * that its state allows cancelling (and, when the client sent `expectedVersion`, that it is
 * still that version), then writes the new state and an
 * `OrderCancelled` event with `seq` = the new version in one transaction conditioned on the
 * version read. Of concurrent cancels exactly one wins; the others get 409 with the current state.
 */
export async function cancelOrder(
  orderId: string,
  body: unknown,
  deps: CancelOrderDeps,
  context: CancelOrderContext = {},
): Promise<Order> {
  const parsed = cancelOrderInput.safeParse(body ?? {});
  if (!parsed.success) throw new ValidationError(fieldErrorsOf(parsed.error), 'The cancel request body is not valid');
  const { reason, expectedVersion } = parsed.data;
  const maxAttempts = deps.maxAttempts ?? 3;
  const newId = deps.newId ?? randomUUID;

  for (let attempt = 1; ; attempt++) {
    const current = visibleTo(context.caller, await deps.findOrder(orderId));
    if (!current) throw orderNotFound(orderId);
    if (expectedVersion !== undefined && current.version !== expectedVersion)
      throw versionConflict(current, expectedVersion);
    if (!CANCELLABLE_STATUSES.includes(current.status)) throw invalidState(current, CANCELLABLE_STATUSES);

    const now = (deps.now ?? (() => new Date()))().toISOString();
    const next: Order = {
      ...current,
      status: 'CANCELLED',
      version: current.version + 1,
      updatedAt: now,
      cancelledAt: now,
      cancelReason: reason,
    };
    const event = newOrderEvent({
      eventId: newId(),
      eventType: 'OrderCancelled',
      schemaVersion: ENVELOPE_SCHEMA_VERSION,
      aggregateType: 'Order',
      aggregateId: orderId,
      seq: next.version,
      occurredAt: now,
      traceparent: context.traceparent,
      tracestate: context.tracestate,
      payload: {
        orderId,
        customerId: current.customerId,
        status: 'CANCELLED',
        previousStatus: current.status,
        currency: current.currency,
        totalMinor: current.totalMinor,
        itemCount: current.itemCount,
        cancelledAt: now,
        reason,
      },
    });
    try {
      await deps.saveCancellation(current, next, event);
      return next;
    } catch (error) {
      if (!(error instanceof WriteConflictError)) throw error;
      if (error.reason === 'order_changed') {
        // Someone else changed the order between our read and our write: answer with what is there now.
        const latest = (await deps.findOrder(orderId)) ?? current;
        if (!CANCELLABLE_STATUSES.includes(latest.status)) throw invalidState(latest, CANCELLABLE_STATUSES);
        throw versionConflict(latest, current.version);
      }
      // A DynamoDB transaction conflict decided nothing: read again and retry, a bounded number of times.
      if (error.reason !== 'transaction_conflict' || attempt >= maxAttempts) throw error;
    }
  }
}
