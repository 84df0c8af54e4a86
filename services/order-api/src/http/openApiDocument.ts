import { z } from 'zod';
import { MAX_ITEMS_PER_ORDER, placeOrderInput } from '../domain/placeOrderInput';
import { cancelOrderInput } from '../domain/cancelOrderInput';
import { orderListResponse, orderResponse, orderSummaryResponse } from './orderView';
import { listOrdersQuery } from './listOrdersQuery';
import { PROBLEM_TYPE_BASE } from './problem';

/** Options for {@link openApiDocument}. */
export interface OpenApiDocumentOptions {
  /** Whether `/orders` needs a bearer token (documents the security scheme). */
  authEnabled: boolean;
  maxBodyBytes: number;
}

/** The JSON Schema of a zod schema as OpenAPI 3.1 (JSON Schema 2020-12) embeds it. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
}

/**
 * The component schemas, each generated from the zod schema the code uses; a schema used
 * inside another becomes a `$ref` to its component.
 */
export function componentSchemas(): Record<string, Record<string, unknown>> {
  const registry = z.registry<{ id: string }>();
  registry.add(placeOrderInput, { id: 'PlaceOrderRequest' });
  registry.add(cancelOrderInput, { id: 'CancelOrderRequest' });
  registry.add(orderResponse, { id: 'Order' });
  registry.add(orderSummaryResponse, { id: 'OrderSummary' });
  registry.add(orderListResponse, { id: 'OrderList' });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const cleaned: Record<string, Record<string, unknown>> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _dialect, $id: _uri, id: _id, ...rest } = schema as Record<string, unknown>;
    cleaned[id] = rest;
  }
  return cleaned;
}

const problem = {
  type: 'object',
  description: `RFC 9457 problem details. \`type\` is stable per case, under ${PROBLEM_TYPE_BASE}.`,
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    instance: { type: 'string' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      description: 'Every failing field (422 validation)',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});
const unavailable = {
  ...problemResponse(
    'DynamoDB (or the key set) is unavailable; nothing was written. Retry after `Retry-After` seconds.',
  ),
  headers: { 'Retry-After': { schema: { type: 'integer' } } },
};
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: the same key and body replay the first response (with `Idempotent-Replayed: true`); the same key with another body is a 422.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
};
const requestId = {
  name: 'X-Request-Id',
  in: 'header',
  required: false,
  description: 'Echoed back; generated when absent.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
};
const orderIdParam = { name: 'orderId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });

/**
 * The OpenAPI 3.1 document of the API, generated from the very zod schemas that validate
 * requests and shape responses, so the two cannot drift apart.
 */
export function openApiDocument(options: OpenApiDocumentOptions): Record<string, unknown> {
  const query = jsonSchema(listOrdersQuery) as {
    properties: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  const listParameters = Object.entries(query.properties).map(([name, schema]) => ({
    name,
    in: 'query',
    required: (query.required ?? []).includes(name),
    schema,
  }));
  const auth = options.authEnabled
    ? { 401: problemResponse('Missing or invalid bearer token; nothing was written.') }
    : {};
  return {
    openapi: '3.1.0',
    info: {
      title: 'order-api',
      version: '1.0.0',
      description:
        'Places and cancels orders. Each change and its outbox event commit in one DynamoDB transaction; money is exact (integer minor units).',
    },
    ...(options.authEnabled ? { security: [{ bearer: [] }] } : {}),
    paths: {
      '/orders': {
        post: {
          operationId: 'placeOrder',
          summary: `Place an order of 1 to ${MAX_ITEMS_PER_ORDER} items`,
          parameters: [idempotencyKey, requestId],
          requestBody: { required: true, content: json('PlaceOrderRequest') },
          responses: {
            201: {
              description: 'Created',
              headers: { Location: { schema: { type: 'string' } } },
              content: json('Order'),
            },
            400: problemResponse('Malformed JSON or a bad Idempotency-Key'),
            ...auth,
            409: problemResponse('Requests with this Idempotency-Key keep colliding; retry'),
            413: problemResponse(`Body over ${options.maxBodyBytes} bytes`),
            415: problemResponse('Not application/json'),
            422: problemResponse(
              'Validation failed (every failing field listed), too many items, total mismatch, or key reused',
            ),
            503: unavailable,
          },
        },
        get: {
          operationId: 'listOrders',
          summary: "A customer's orders, newest first",
          parameters: [...listParameters, requestId],
          responses: {
            200: { description: 'A page', content: json('OrderList') },
            ...auth,
            422: problemResponse('Invalid query'),
            503: unavailable,
          },
        },
      },
      '/orders/{orderId}': {
        get: {
          operationId: 'getOrder',
          parameters: [orderIdParam, requestId],
          responses: {
            200: { description: 'The order with its items', content: json('Order') },
            ...auth,
            404: problemResponse('No such order'),
            503: unavailable,
          },
        },
      },
      '/orders/{orderId}/cancel': {
        post: {
          operationId: 'cancelOrder',
          summary: 'Cancel an order (allowed from CREATED)',
          parameters: [orderIdParam, idempotencyKey, requestId],
          requestBody: { required: false, content: json('CancelOrderRequest') },
          responses: {
            200: { description: 'The cancelled order', content: json('Order') },
            ...auth,
            404: problemResponse('No such order'),
            409: problemResponse(
              'The state does not allow it, or the version moved on; the problem holds the current state',
            ),
            415: problemResponse('Not application/json'),
            422: problemResponse('Validation failed'),
            503: unavailable,
          },
        },
      },
    },
    components: {
      schemas: {
        ...componentSchemas(),
        Problem: problem,
      },
      ...(options.authEnabled
        ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } }
        : {}),
    },
  };
}
