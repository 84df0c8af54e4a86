import { AppError } from '@outbox/shared';
import type { Order } from './Order';
import { formatMinorUnits, fromMinorUnits } from './money';

/** One failing field of a request, named by its path (`items.0.price`). */
export interface FieldError {
  field: string;
  message: string;
}

/** A request that failed validation; `fieldErrors` names every failing field. */
export class ValidationError extends AppError {
  readonly fieldErrors: FieldError[];

  constructor(fieldErrors: FieldError[], message = 'The request is not valid') {
    super('request.validation_failed', message, { httpStatus: 422, details: { errors: fieldErrors } });
    this.name = 'ValidationError';
    this.fieldErrors = fieldErrors;
  }
}

/** The order has more lines than one transaction can hold. */
export function tooManyItems(itemCount: number, maxItems: number): AppError {
  return new AppError(
    'order.too_many_items',
    `An order can hold at most ${maxItems} items; this one has ${itemCount}`,
    {
      httpStatus: 422,
      details: { maxItems, itemCount },
    },
  );
}

/** The client's own total differs from the total computed from the lines. */
export function totalMismatch(submittedMinor: number, computedMinor: number): AppError {
  return new AppError(
    'order.total_mismatch',
    `The submitted total ${formatMinorUnits(submittedMinor)} does not equal the computed total ${formatMinorUnits(computedMinor)}`,
    {
      httpStatus: 422,
      details: {
        submittedTotal: fromMinorUnits(submittedMinor),
        computedTotal: fromMinorUnits(computedMinor),
        submittedTotalMinor: submittedMinor,
        computedTotalMinor: computedMinor,
      },
    },
  );
}

/** The computed order total is over the documented maximum. */
export function totalTooLarge(computedMinor: bigint, maxMinor: number): AppError {
  return new AppError(
    'order.total_too_large',
    `The order total ${formatMinorUnits(computedMinor)} is over the maximum order total ${formatMinorUnits(maxMinor)}`,
    {
      httpStatus: 422,
      details: {
        computedTotal: formatMinorUnits(computedMinor),
        maxTotal: fromMinorUnits(maxMinor),
        maxTotalMinor: maxMinor,
      },
    },
  );
}

/** The order does not exist. */
export function orderNotFound(orderId: string): AppError {
  return new AppError('order.not_found', `Order ${orderId} does not exist`, {
    httpStatus: 404,
    details: { orderId },
  });
}

/** The caller may not act for this customer (placing or listing another customer's orders). */
export function forbiddenCustomer(customerId: string): AppError {
  return new AppError('auth.forbidden', `This caller may not act for customer ${customerId}`, {
    httpStatus: 403,
    details: { customerId },
  });
}

const currentState = (order: Order) => ({ orderId: order.orderId, status: order.status, version: order.version });

/** The order is in a state that does not allow the change. */
export function invalidState(order: Order, allowedStatuses: readonly string[]): AppError {
  return new AppError(
    'order.invalid_state',
    `Order ${order.orderId} is ${order.status}; this needs ${allowedStatuses.join(' or ')}`,
    {
      httpStatus: 409,
      details: { current: currentState(order), allowedStatuses },
    },
  );
}

/** The order changed since the request read it (or the client expected another version). */
export function versionConflict(order: Order, expectedVersion: number): AppError {
  return new AppError(
    'order.version_conflict',
    `Order ${order.orderId} is at version ${order.version}, not ${expectedVersion}`,
    { httpStatus: 409, details: { current: currentState(order), expectedVersion } },
  );
}

/** DynamoDB could not be reached or refused the write for a reason that may pass. */
export function storeUnavailable(cause: unknown): AppError {
  return new AppError('store.unavailable', 'The order store is unavailable; retry later', {
    httpStatus: 503,
    retriable: true,
    cause,
  });
}

/** The `Idempotency-Key` header is not usable. */
export function invalidIdempotencyKey(): AppError {
  return new AppError('idempotency.invalid_key', 'Idempotency-Key must be 1 to 255 visible ASCII characters', {
    httpStatus: 400,
  });
}

/** The key was used before for a different request. */
export function idempotencyKeyReused(): AppError {
  return new AppError(
    'idempotency.key_reused',
    'This Idempotency-Key was already used for a different request; use a new key for a new request',
    { httpStatus: 422 },
  );
}

/** Requests with this key keep colliding; the client should retry shortly. */
export function idempotencyInProgress(): AppError {
  return new AppError('idempotency.in_progress', 'A request with this Idempotency-Key is in progress; retry shortly', {
    httpStatus: 409,
    retriable: true,
  });
}

/** Why a conditional transaction was cancelled. */
export type WriteConflictReason = 'order_changed' | 'idempotency_key_taken' | 'transaction_conflict';

/**
 * A transaction was cancelled by a concurrent writer: the order changed since it was read, the
 * idempotency key was taken, or DynamoDB saw two transactions touch one item at once. Callers
 * turn it into the right answer; should one escape, it is a retriable 409.
 */
export class WriteConflictError extends AppError {
  readonly reason: WriteConflictReason;

  constructor(reason: WriteConflictReason, cause?: unknown) {
    super('store.write_conflict', `The write lost a race (${reason}); retry`, {
      httpStatus: 409,
      retriable: true,
      cause,
    });
    this.name = 'WriteConflictError';
    this.reason = reason;
  }
}
