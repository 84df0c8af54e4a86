import express, { type RequestHandler } from 'express';
import { AppError } from '@outbox/shared';
import { ValidationError } from '../domain/errors';

/** Deeper bodies are refused before parsing: no valid request nests beyond 3 levels. */
export const MAX_JSON_DEPTH = 32;

/** The source text of each number in parsed bodies, by the object or array that holds it. */
const numberTexts = new WeakMap<object, Map<string, string>>();

/** What `JSON.parse` hands a reviver as its third argument (Node 22+: JSON.parse source text access). */
interface ReviverContext {
  source?: string;
}

function rememberNumberText(this: unknown, key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value === 'number' && context?.source !== undefined && this !== null && typeof this === 'object') {
    let texts = numberTexts.get(this);
    if (!texts) numberTexts.set(this, (texts = new Map()));
    texts.set(key, context.source);
  }
  return value;
}

/**
 * The decimal text a request body held for `holder[key]` (`"80000000000000.01"`, where the
 * parsed number is only the nearest double), or `undefined` for a value that did not come from
 * a body parsed by {@link exactJsonBody}.
 */
export function numberTextOf(holder: object, key: string | number): string | undefined {
  return numberTexts.get(holder)?.get(String(key));
}

/** The deepest nesting of arrays and objects in JSON text (brackets inside strings do not count). */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/**
 * Parses JSON text as body-parser's strict mode does (an object or an array), keeping number
 * texts. A body nesting deeper than {@link MAX_JSON_DEPTH} is a 422 before parsing (the reviver
 * recurses per level, so thousands of levels would exhaust the stack).
 */
export function parseExactJson(text: string): unknown {
  const first = /[^ \t\n\r]/.exec(text)?.[0];
  if (first === undefined) return {}; // an empty body, as express.json reads it
  if (first !== '{' && first !== '[') throw malformedJson();
  if (nestingDepth(text) > MAX_JSON_DEPTH) {
    throw new ValidationError(
      [{ field: '(body)', message: `nests deeper than ${MAX_JSON_DEPTH} levels` }],
      'The request body nests too deeply',
    );
  }
  try {
    // Typed for TypeScript's lib, which does not know the reviver's third argument yet.
    return JSON.parse(text, rememberNumberText as (this: unknown, key: string, value: unknown) => unknown);
  } catch (error) {
    throw malformedJson(error);
  }
}

function malformedJson(cause?: unknown): AppError {
  return new AppError('request.malformed_json', 'The request body is not valid JSON', { httpStatus: 400, cause });
}

/** Options for {@link exactJsonBody}. */
export interface ExactJsonBodyOptions {
  /** Largest body in bytes (413 beyond). */
  limit: number;
}

/**
 * Reads an `application/json` body into `req.body` like `express.json()` (size limit, gzip and
 * deflate, UTF charsets only, strict), but keeps the source text of every number for
 * {@link numberTextOf}: prices are read from the text the client sent, never through a double.
 */
export function exactJsonBody(options: ExactJsonBodyOptions): RequestHandler[] {
  // Without source text access the amounts would silently go through doubles again: refuse to start.
  let sourceSeen: string | undefined;
  JSON.parse('[1.10]', (_key, value, context?: ReviverContext) => {
    if (typeof value === 'number') sourceSeen = context?.source;
    return value;
  });
  if (sourceSeen !== '1.10')
    throw new Error('JSON.parse source text access is missing: order-api needs Node.js 22 or later');
  const readText = express.text({ type: 'application/json', limit: options.limit, defaultCharset: 'utf-8' });
  const charsetIsUtf: RequestHandler = (req, _res, next) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && !charset.startsWith('utf-')) {
      throw new AppError('request.unsupported_encoding', `The charset "${charset}" is not supported; send UTF-8`, {
        httpStatus: 415,
      });
    }
    next();
  };
  const parse: RequestHandler = (req, _res, next) => {
    if (typeof req.body === 'string') req.body = parseExactJson(req.body);
    next();
  };
  return [charsetIsUtf, readText, parse];
}
