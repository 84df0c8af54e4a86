import { AppError } from '@outbox/shared';

/**
 * What a change source reports in its own words, whatever the stream service called it:
 * - `source.trimmed`: records the relay has not read are gone from the stream (past its trim
 *   horizon); they must come from the outbox table.
 * - `source.iterator_expired`: the read position is no longer valid (expired, or fell behind the
 *   horizon between two reads); re-acquire it from the checkpoint.
 */
export type SourceErrorCode = 'source.trimmed' | 'source.iterator_expired';

/** A source-neutral error raised by {@link ChangeSource} adapters; the relay decides by `code`. */
export class SourceError extends AppError {
  override readonly code: SourceErrorCode;
  /** The shard concerned. */
  readonly shardId: string;

  constructor(code: SourceErrorCode, shardId: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { retriable: true, cause: options.cause });
    this.name = 'SourceError';
    this.code = code;
    this.shardId = shardId;
  }
}

/** True when `error` is a {@link SourceError} with `code`. */
export function isSourceError(error: unknown, code: SourceErrorCode): error is SourceError {
  return error instanceof SourceError && error.code === code;
}
