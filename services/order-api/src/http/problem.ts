import type { ErrorRequestHandler, Response } from 'express';
import { AppError, toAppError, type Logger } from '@outbox/shared';

/** Base URI of the problem `type`s; each error code gets its own stable type URI. */
export const PROBLEM_TYPE_BASE = 'https://outbox.example.com/problems/';

/** Sends an RFC 9457 problem document for an {@link AppError}. */
export function sendProblem(res: Response, error: AppError, instance?: string): void {
  const status = error.httpStatus ?? 500;
  if (error.retriable && status === 503) res.setHeader('Retry-After', '1');
  res
    .status(status)
    .type('application/problem+json')
    .json({
      type: `${PROBLEM_TYPE_BASE}${error.code.replace(/[._]/g, '-')}`,
      title: titleFor(status),
      status,
      detail: error.message,
      code: error.code,
      instance,
      ...(error.details ?? {}),
    });
}

function titleFor(status: number): string {
  const titles: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    404: 'Not Found',
    409: 'Conflict',
    413: 'Content Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Content',
    503: 'Service Unavailable',
  };
  return titles[status] ?? 'Internal Server Error';
}

/** Maps body-parser failures (they carry a `type` and `status`) to specific problems. */
function fromBodyParser(error: unknown): AppError | undefined {
  const e = error as { type?: string; status?: number; limit?: number } | undefined;
  switch (e?.type) {
    case 'entity.parse.failed':
      return new AppError('request.malformed_json', 'The request body is not valid JSON', { httpStatus: 400, cause: error });
    case 'entity.too.large':
      return new AppError('request.too_large', `The request body is larger than ${e.limit} bytes`, {
        httpStatus: 413,
        details: { limitBytes: e.limit },
        cause: error,
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('request.unsupported_encoding', 'The request body encoding is not supported', {
        httpStatus: 415,
        cause: error,
      });
    default:
      return undefined;
  }
}

/** The last Express middleware: every error becomes problem+json; only faults of ours are 500. */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    let appError = fromBodyParser(error) ?? toAppError(error);
    const status = appError.httpStatus ?? 500;
    if (status >= 500) logger.error({ err: error, code: appError.code, path: req.path }, 'request failed');
    if (res.headersSent) return;
    // Our own faults say nothing of their internals to the client.
    if (status === 500) appError = new AppError('internal', 'An unexpected error occurred', { httpStatus: 500 });
    sendProblem(res, appError, req.originalUrl);
  };
}
