import { z } from 'zod';
import { ValidationError } from '../domain/errors';
import { fieldErrorsOf } from '../domain/fieldErrorsOf';
import { customerPk, type CustomerIndexKey } from '../data/OrderRepository';

/** Page size when the client sends none, and the largest it may ask for. */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** The query of `GET /orders`, as strings arrive in a query. Unknown parameters are rejected. */
export const listOrdersQuery = z.strictObject({
  customerId: z.uuid('must be a UUID'),
  // A query value is text; the document shows the integer it must spell (io 'output').
  limit: z
    .string({ error: 'must be given once' })
    .regex(/^[0-9]+$/, `must be an integer from 1 to ${MAX_PAGE_SIZE}`)
    .transform(Number)
    .pipe(
      z
        .number()
        .int(`must be an integer from 1 to ${MAX_PAGE_SIZE}`)
        .min(1, `must be an integer from 1 to ${MAX_PAGE_SIZE}`)
        .max(MAX_PAGE_SIZE, `must be an integer from 1 to ${MAX_PAGE_SIZE}`),
    )
    .optional()
    .meta({ description: `Page size, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})` }),
  cursor: z
    .string({ error: 'must be given once' })
    .max(1024, 'is not a valid cursor')
    .optional()
    .meta({ description: 'The `nextCursor` of the previous page' }),
});

/** A validated listing request. */
export interface ListOrdersRequest {
  customerId: string;
  limit: number;
  startKey?: CustomerIndexKey;
}

const cursorKey = z.strictObject({
  pk: z.string().regex(/^ORDER#[0-9a-f-]{36}$/),
  sk: z.literal('META'),
  gsi1pk: z.string(),
  gsi1sk: z.string().min(1).max(200),
});

/** Encodes where the next page starts as an opaque, URL-safe cursor. */
export function encodeCursor(key: CustomerIndexKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * Validates the query; the cursor must decode to an index key of this very customer, so a
 * forged or foreign cursor is a 422, never a 500 or another customer's page.
 */
export function parseListOrdersQuery(query: unknown): ListOrdersRequest {
  const parsed = listOrdersQuery.safeParse(query);
  if (!parsed.success) throw new ValidationError(fieldErrorsOf(parsed.error, '(query)'), 'The query is not valid');
  const { customerId, limit, cursor } = parsed.data;
  let startKey: CustomerIndexKey | undefined;
  if (cursor !== undefined) {
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      decoded = undefined;
    }
    const key = cursorKey.safeParse(decoded);
    if (!key.success || key.data.gsi1pk !== customerPk(customerId)) {
      throw new ValidationError(
        [{ field: 'cursor', message: 'is not a valid cursor for this customer' }],
        'The query is not valid',
      );
    }
    startKey = key.data;
  }
  return { customerId, limit: limit ?? DEFAULT_PAGE_SIZE, startKey };
}
