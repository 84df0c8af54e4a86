import { z } from 'zod';
import { envelopeSchema, orderEventSchema, orderEventVersions } from '@outbox/shared';
import { MAX_ITEMS_PER_ORDER, placeOrderInput } from '../domain/placeOrderInput';
import { MAX_PRICE_MINOR, MAX_TOTAL_MINOR, fromMinorUnits } from '../domain/money';
import { cancelOrderInput } from '../domain/cancelOrderInput';
import { orderListResponse, orderResponse, orderSummaryResponse } from './orderView';
import { listOrdersQuery } from './listOrdersQuery';
import { REQUEST_ID } from './observeRequests';
import { problemBody } from './problem';

/** Options for {@link openApiDocument}. */
export interface OpenApiDocumentOptions {
  /** Whether `/orders` needs a bearer token (documents the security scheme and its 401/403). */
  authEnabled: boolean;
  maxBodyBytes: number;
}

type JsonObject = Record<string, unknown>;

const JSON_SCHEMA = { target: 'draft-2020-12', unrepresentable: 'any' } as const;

/** The JSON Schema of a zod schema as OpenAPI 3.1 (JSON Schema 2020-12) embeds it. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { ...JSON_SCHEMA, io }) as JsonObject;
  return rest;
}

/**
 * The component schemas, each generated from the zod schema the code validates or answers
 * with; a schema used inside another becomes a `$ref` to its component. The events the API
 * writes to the outbox (`OrderEventEnvelope`, and `<type>V<version>` for each type and payload
 * version) come from the shared event contract in packages/shared, as its JSON Schema files do.
 */
export function componentSchemas(): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  registry.add(placeOrderInput, { id: 'PlaceOrderRequest' });
  registry.add(cancelOrderInput, { id: 'CancelOrderRequest' });
  registry.add(orderResponse, { id: 'Order' });
  registry.add(orderSummaryResponse, { id: 'OrderSummary' });
  registry.add(orderListResponse, { id: 'OrderList' });
  registry.add(problemBody, { id: 'Problem' });
  registry.add(envelopeSchema, { id: 'OrderEventEnvelope' });
  for (const { eventType, schemaVersion } of orderEventVersions()) {
    registry.add(orderEventSchema(eventType, schemaVersion), { id: `${eventType}V${schemaVersion}` });
  }
  const { schemas } = z.toJSONSchema(registry, {
    ...JSON_SCHEMA,
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const cleaned: Record<string, JsonObject> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _dialect, $id: _uri, id: _id, ...rest } = schema as JsonObject;
    cleaned[id] = rest;
  }
  return cleaned;
}

/**
 * The `X-Request-Id` the API answers with: the caller's when it matches this pattern, else a
 * fresh UUID (which matches it too). Any request value is accepted, so the request side
 * documents no pattern: a pattern there would promise a rejection that never happens.
 */
const requestIdHeader = {
  description: "The request id: the caller's `X-Request-Id` when it matched the pattern, else a fresh UUID",
  required: true,
  schema: { type: 'string', pattern: REQUEST_ID.source },
};
const requestIdParameter = {
  name: 'X-Request-Id',
  in: 'header',
  required: false,
  description: `Correlates logs. Echoed back when it matches \`${REQUEST_ID.source}\`; any other value is replaced by a fresh UUID (never rejected).`,
  schema: { type: 'string' },
};
/** Must match `KEY` in `idempotency.ts` (the contract test sends keys on both sides of it). */
const idempotencyKeyParameter = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: the same key and request replay the first success (with `Idempotent-Replayed: true`); the same key with another request is a 422. Any other value is a 400.',
  schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
};
const orderIdParameter = {
  name: 'orderId',
  in: 'path',
  required: true,
  description: 'An order id; a value that is not a UUID is answered 404',
  schema: { type: 'string', format: 'uuid' },
};

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const retryAfter = {
  description: 'Seconds to wait before retrying',
  required: true,
  schema: { type: 'integer', minimum: 1 },
};
const replayed = {
  description: 'Present (`true`) when this is the stored answer to an earlier request with the same Idempotency-Key',
  required: false,
  schema: { type: 'string', enum: ['true'] },
};

/** A success answer with a JSON body, and the operations its values lead to (OpenAPI links). */
function success(description: string, schema: string, headers: JsonObject = {}, links?: JsonObject): JsonObject {
  return {
    description,
    headers: { 'X-Request-Id': requestIdHeader, ...headers },
    content: { 'application/json': { schema: ref(schema) } },
    ...(links ? { links } : {}),
  };
}

/** Where an order in a response leads: read it, cancel it, list its customer's orders. */
const orderLinks = {
  GetOrder: { operationId: 'getOrder', parameters: { orderId: '$response.body#/orderId' } },
  CancelOrder: { operationId: 'cancelOrder', parameters: { orderId: '$response.body#/orderId' } },
  ListOrders: { operationId: 'listOrders', parameters: { customerId: '$response.body#/customerId' } },
};

/** A problem answer; `codes` lists the `code`s it can carry. */
function problem(description: string, codes: string[], headers: JsonObject = {}): JsonObject {
  const named = codes.length > 0 ? ` (\`code\`: ${codes.map((code) => `\`${code}\``).join(', ')})` : '';
  return {
    description: `${description}${named}`,
    headers: { 'X-Request-Id': requestIdHeader, ...headers },
    content: { 'application/problem+json': { schema: ref('Problem') } },
  };
}

/** The statuses every operation shares, and those only some can answer. */
function answers(options: OpenApiDocumentOptions) {
  return {
    400: (what: string) => problem(what, ['request.malformed_json', 'request.invalid', 'idempotency.invalid_key']),
    401: problem('Missing or invalid bearer token; nothing was read or written', [
      'auth.missing_token',
      'auth.invalid_token',
    ]),
    403: (what: string) => problem(`${what}; nothing was read or written`, ['auth.forbidden']),
    404: problem('No such order (or, with authentication on, not an order of the caller)', ['order.not_found']),
    413: problem(`Body over ${options.maxBodyBytes} bytes; the problem holds \`limitBytes\``, ['request.too_large']),
    415: problem('The body is not application/json in a UTF charset', [
      'request.unsupported_media_type',
      'request.unsupported_encoding',
    ]),
    503: problem(
      'DynamoDB (or the key set) is unavailable; nothing was written. Retry after `Retry-After` seconds',
      ['store.unavailable', 'auth.unavailable'],
      { 'Retry-After': retryAfter },
    ),
  };
}

/**
 * The OpenAPI 3.1 document of the public API, generated from the very zod schemas that validate
 * requests and shape responses, so the two cannot drift apart. It lists every status each
 * operation can answer (500 is never an answer, it is a bug). The ops endpoints (`/healthz`,
 * `/readyz`, `/metrics`) are not part of it.
 */
export function openApiDocument(options: OpenApiDocumentOptions): JsonObject {
  const query = jsonSchema(listOrdersQuery, 'output') as {
    properties: Record<string, JsonObject>;
    required?: string[];
  };
  const listParameters = Object.entries(query.properties).map(([name, schema]) => ({
    name,
    in: 'query',
    required: (query.required ?? []).includes(name),
    schema,
  }));
  const a = answers(options);
  const auth = options.authEnabled;
  /** The bearer requirement and its 401 on every operation, when authentication is on. */
  const secured = (operation: JsonObject & { responses: JsonObject }): JsonObject =>
    auth
      ? { ...operation, security: [{ bearerAuth: [] }], responses: { ...operation.responses, 401: a[401] } }
      : operation;
  const keyInProgress = problem(
    'Requests with this Idempotency-Key keep colliding in DynamoDB; retry after `Retry-After` seconds',
    ['idempotency.in_progress'],
    { 'Retry-After': retryAfter },
  );

  return {
    openapi: '3.1.0',
    info: {
      title: 'order-api',
      version: '1.0.0',
      description: [
        'Places and cancels orders. Each change and its outbox event commit in one DynamoDB transaction.',
        `Money is exact: prices are read from the request's decimal text into integer minor units (a price 0 to ${fromMinorUnits(MAX_PRICE_MINOR)}, at most 2 decimal places; an order total at most ${fromMinorUnits(MAX_TOTAL_MINOR)}).`,
        'Errors are RFC 9457 problems (application/problem+json).',
        'Each change also writes an event to the outbox, published to Kafka by the relay: its schemas are the `OrderEventEnvelope` and `<type>V<version>` components.',
      ].join(' '),
    },
    ...(auth ? { security: [{ bearerAuth: [] }] } : {}),
    paths: {
      '/orders': {
        post: secured({
          operationId: 'placeOrder',
          summary: `Place an order of 1 to ${MAX_ITEMS_PER_ORDER} items`,
          parameters: [idempotencyKeyParameter, requestIdParameter],
          requestBody: { required: true, content: { 'application/json': { schema: ref('PlaceOrderRequest') } } },
          responses: {
            201: success(
              'Created',
              'Order',
              {
                Location: { description: 'The new order', required: true, schema: { type: 'string' } },
                'Idempotent-Replayed': replayed,
              },
              orderLinks,
            ),
            400: a[400]('Malformed JSON or a bad Idempotency-Key'),
            ...(auth ? { 403: a[403]("`customerId` is not the caller's customer") } : {}),
            409: keyInProgress,
            413: a[413],
            415: a[415],
            422: problem(
              'Validation failed (every failing field listed), too many items, total mismatch or too large, or the key was used for another request',
              [
                'request.validation_failed',
                'order.too_many_items',
                'order.total_mismatch',
                'order.total_too_large',
                'idempotency.key_reused',
              ],
            ),
            503: a[503],
          },
        }),
        get: secured({
          operationId: 'listOrders',
          summary: "A customer's orders, newest first",
          parameters: [...listParameters, requestIdParameter],
          responses: {
            200: success(
              'A page',
              'OrderList',
              {},
              {
                NextPage: {
                  operationId: 'listOrders',
                  parameters: { customerId: '$request.query.customerId', cursor: '$response.body#/nextCursor' },
                },
              },
            ),
            ...(auth ? { 403: a[403]("`customerId` is not the caller's customer") } : {}),
            422: problem('Invalid query (every failing parameter listed; a cursor of another customer too)', [
              'request.validation_failed',
            ]),
            503: a[503],
          },
        }),
      },
      '/orders/{orderId}': {
        get: secured({
          operationId: 'getOrder',
          parameters: [orderIdParameter, requestIdParameter],
          responses: {
            200: success('The order with its items', 'Order', {}, orderLinks),
            400: a[400]('The path is not valid percent-encoding'),
            404: a[404],
            503: a[503],
          },
        }),
      },
      '/orders/{orderId}/cancel': {
        post: secured({
          operationId: 'cancelOrder',
          summary: 'Cancel an order (allowed from CREATED)',
          parameters: [orderIdParameter, idempotencyKeyParameter, requestIdParameter],
          requestBody: { required: false, content: { 'application/json': { schema: ref('CancelOrderRequest') } } },
          responses: {
            200: success('The cancelled order', 'Order', { 'Idempotent-Replayed': replayed }, orderLinks),
            400: a[400]('Malformed JSON, bad percent-encoding or a bad Idempotency-Key'),
            404: a[404],
            409: problem(
              'The state does not allow it, or the version moved on (the problem holds `current: { orderId, status, version }`); or requests with this Idempotency-Key keep colliding (then with `Retry-After`)',
              ['order.invalid_state', 'order.version_conflict', 'idempotency.in_progress'],
              { 'Retry-After': { ...retryAfter, required: false } },
            ),
            413: a[413],
            415: a[415],
            422: problem('Validation failed, or the key was used for another request', [
              'request.validation_failed',
              'idempotency.key_reused',
            ]),
            503: a[503],
          },
        }),
      },
    },
    components: {
      schemas: componentSchemas(),
      ...(auth
        ? {
            securitySchemes: {
              bearerAuth: {
                type: 'http',
                scheme: 'bearer',
                bearerFormat: 'JWT',
                description: 'A JWT of the configured issuer and audience (AUTH_MODE=jwt)',
              },
            },
          }
        : {}),
    },
  };
}
