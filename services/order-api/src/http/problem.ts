import type { ErrorRequestHandler, Response } from 'express';
import { z } from 'zod';
import { AppError, toAppError, type Logger } from '@outbox/shared';

/** Base URI of the problem `type`s; each error code gets its own stable type URI. */
export const PROBLEM_TYPE_BASE = 'https://outbox.example.com/problems/';

/**
 * An RFC 9457 problem document as the API sends it: the standard members, our `code` and
 * `requestId`, plus case details (`errors`, `current`, `maxItems`, `limitBytes`, ...).
 */
export const problemBody = z
  .looseObject({
    type: z.url().meta({ description: `Stable per case: ${PROBLEM_TYPE_BASE}<code with . and _ as ->` }),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string(),
    code: z.string().meta({ description: 'The error code, e.g. `order.not_found`' }),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z
      .array(z.strictObject({ field: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'Every failing field (422 `request.validation_failed`)' }),
  })
  .meta({ description: 'RFC 9457 problem details (application/problem+json)' });

/** The problem `type` URI of an error code (`order.not_found` → `.../order-not-found`). */
export function problemType(code: string): string {
  return `${PROBLEM_TYPE_BASE}${code.replace(/[._]/g, '-')}`;
}

/** Options for {@link sendProblem} and {@link problemHandler}. */
export interface ProblemOptions {
  /** Seconds a retriable 503 or 409 asks the client to wait (`Retry-After`). */
  retryAfterSeconds?: number;
}

/** Sends an RFC 9457 problem document for an {@link AppError}. */
export function sendProblem(res: Response, error: AppError, instance?: string, options: ProblemOptions = {}): void {
  const status = error.httpStatus ?? 500;
  if (error.retriable && (status === 503 || status === 409))
    res.setHeader('Retry-After', String(options.retryAfterSeconds ?? 1));
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  const body: z.input<typeof problemBody> = {
    ...(error.details ?? {}),
    type: problemType(error.code),
    title: titleFor(status),
    status,
    detail: error.message,
    code: error.code,
    instance,
    requestId: res.locals.requestId as string | undefined,
  };
  res.status(status).type('application/problem+json').json(body);
}

function titleFor(status: number): string {
  const titles: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    409: 'Conflict',
    413: 'Content Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Content',
    503: 'Service Unavailable',
  };
  return titles[status] ?? (status < 500 ? 'Bad Request' : 'Internal Server Error');
}

/**
 * Maps errors Express and body-parser raise for bad input (they carry a `type` or a 4xx
 * `status`) to specific problems, so client input never becomes a 500.
 */
function fromHttpLayer(error: unknown): AppError | undefined {
  const e = error as
    { type?: string; status?: number; statusCode?: number; limit?: number; expose?: boolean } | undefined;
  switch (e?.type) {
    case 'entity.parse.failed':
      return new AppError('request.malformed_json', 'The request body is not valid JSON', {
        httpStatus: 400,
        cause: error,
      });
    case 'entity.too.large':
      return new AppError('request.too_large', `The request body is larger than ${e.limit} bytes`, {
        httpStatus: 413,
        details: { limitBytes: e.limit },
        cause: error,
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('request.unsupported_encoding', 'The request body encoding or charset is not supported', {
        httpStatus: 415,
        cause: error,
      });
    default:
      break;
  }
  const status = e?.status ?? e?.statusCode;
  if (!(error instanceof AppError) && typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError('request.invalid', 'The request is not valid', {
      httpStatus: status === 400 || status === 413 || status === 415 ? status : 400,
      cause: error,
    });
  }
  return undefined;
}

/** The last Express middleware: every error becomes problem+json; only faults of ours are 500. */
export function problemHandler(logger: Logger, options: ProblemOptions = {}): ErrorRequestHandler {
  return (error, req, res, _next) => {
    let appError = fromHttpLayer(error) ?? toAppError(error);
    const status = appError.httpStatus ?? 500;
    const log = (res.locals.log as Logger | undefined) ?? logger;
    // The route template, never the raw URL: paths and queries can carry ids of customers.
    if (status >= 500) log.error({ err: error, code: appError.code, route: res.locals.route }, 'request failed');
    else log.debug({ code: appError.code, route: res.locals.route }, 'request rejected');
    if (res.headersSent) return;
    // Our own faults say nothing of their internals to the client.
    if (status === 500) appError = new AppError('internal', 'An unexpected error occurred', { httpStatus: 500 });
    sendProblem(res, appError, req.originalUrl, options);
  };
}
