import { AppError } from '@outbox/shared';

/** A request that failed validation; `fieldErrors` names every failing field. */
export class ValidationError extends AppError {
  readonly fieldErrors: { field: string; message: string }[];

  constructor(fieldErrors: { field: string; message: string }[]) {
    super('order.validation_failed', 'The request body is not a valid order', {
      httpStatus: 422,
      details: { errors: fieldErrors },
    });
    this.name = 'ValidationError';
    this.fieldErrors = fieldErrors;
  }
}

/** The order does not exist. */
export function orderNotFound(orderId: string): AppError {
  return new AppError('order.not_found', `Order ${orderId} does not exist`, {
    httpStatus: 404,
    details: { orderId },
  });
}

/** DynamoDB could not be reached or refused the write for a reason that may pass. */
export function storeUnavailable(cause: unknown): AppError {
  return new AppError('store.unavailable', 'The order store is unavailable; retry later', {
    httpStatus: 503,
    retriable: true,
    cause,
  });
}
