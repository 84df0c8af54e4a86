/** Options for {@link AppError}. */
export interface AppErrorOptions {
  /** HTTP status the API answers with when this error reaches it. */
  httpStatus?: number;
  /** Whether trying the same operation again may succeed (decides retry versus dead letter). */
  retriable?: boolean;
  /** Extra, safe-to-show details (field errors, limits). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * The one base error of the project: a stable string `code` (for example
 * `'order.too_many_items'`), whether it is `retriable`, and the HTTP status it maps to.
 */
export class AppError extends Error {
  readonly code: string;
  readonly httpStatus?: number;
  readonly retriable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.httpStatus = options.httpStatus;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }
}

/** Turns any thrown value into an {@link AppError}, keeping the original as `cause`. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AppError('internal', message, { httpStatus: 500, retriable: false, cause: error });
}
