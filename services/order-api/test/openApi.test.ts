import request from 'supertest';
import { z } from 'zod';
import { eventJsonSchemaFiles } from '@outbox/shared';
import { MAX_ITEMS_PER_ORDER } from '../src/domain/placeOrderInput';
import { openApiDocument } from '../src/http/openApiDocument';
import { buildTestApp, createTestTables, customerId, orderBody } from './support/testApp';
import type { TestTables } from '@outbox/testkit';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Record<string, unknown>> };
};

describe('GET /openapi.json', () => {
  let tables: TestTables;
  let built: ReturnType<typeof buildTestApp>;
  let doc: Doc;
  /** A validator built from the served document alone, independent of the code's zod schemas. */
  const validatorFor = (name: string) => {
    // zod resolves only `#/$defs/...`: point the component references there.
    const schemas = JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', '#/$defs/'));
    return z.fromJSONSchema({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      ...schemas[name],
      $defs: schemas,
    });
  };

  beforeAll(async () => {
    tables = await createTestTables();
    built = buildTestApp({ tables });
    doc = (await request(built.app).get('/openapi.json').expect(200)).body;
  });
  afterAll(() => built.destroy());

  test('When the document is fetched, then it is OpenAPI 3.1 with every operation, its problems and the Idempotency-Key header', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(['/orders', '/orders/{orderId}', '/orders/{orderId}/cancel']);
    const post = doc.paths['/orders']?.post as { responses: Record<string, unknown>; parameters: { name: string }[] };
    expect(Object.keys(post.responses).sort()).toEqual(['201', '400', '409', '413', '415', '422', '503']);
    expect(post.parameters.map((p) => p.name)).toContain('Idempotency-Key');
    expect(doc.components.schemas.PlaceOrderRequest).toMatchObject({
      additionalProperties: false,
      required: ['customerId', 'items'],
      properties: { items: { minItems: 1, maxItems: MAX_ITEMS_PER_ORDER } },
    });
  });

  test('When sample bodies are checked by the document and by the API, then both accept and reject the same ones', async () => {
    const line = { productId: 'p', quantity: 1, price: 2.5 };
    const samples: unknown[] = [
      orderBody(1),
      orderBody(MAX_ITEMS_PER_ORDER),
      { ...orderBody(1), total: 1.1 },
      orderBody(MAX_ITEMS_PER_ORDER + 1),
      { customerId, items: [] },
      { customerId: 'nope', items: [line] },
      { items: [line] },
      { customerId, items: [line], extra: 1 },
      { customerId, items: [{ ...line, colour: 'red' }] },
      { customerId, items: [{ ...line, productId: '' }] },
      { customerId, items: [{ ...line, productId: 'x'.repeat(64) }] },
      { customerId, items: [{ ...line, productId: 'x'.repeat(65) }] },
      { customerId, items: [{ ...line, quantity: 0 }] },
      { customerId, items: [{ ...line, quantity: 1000 }] },
      { customerId, items: [{ ...line, quantity: 1001 }] },
      { customerId, items: [{ ...line, quantity: 1.5 }] },
      { customerId, items: [{ ...line, price: -0.01 }] },
      { customerId, items: [{ ...line, price: 0 }] },
      { customerId, items: [{ ...line, price: '2.50' }] },
      { customerId, items: [{ ...line, price: 0.29 }] },
      { customerId, items: [{ ...line, price: 0.001 }] },
      { customerId, items: [{ ...line, price: 1000000000 }] },
      { customerId, items: [{ ...line, price: 1000000000.01 }] },
      { customerId, items: [{ ...line, productId: ' ' }] },
      { customerId, items: [{ ...line, quantity: 1000, price: 1000000000 }], total: 1000000000000 },
      { customerId, items: [line], total: 10000000000000 },
    ];
    const placeOrder = validatorFor('PlaceOrderRequest');
    for (const body of samples) {
      const response = await request(built.app)
        .post('/orders')
        .send(body as object);
      expect({ body, accepted: response.status === 201 }).toEqual({
        body,
        accepted: placeOrder.safeParse(body).success,
      });
    }
  });

  test('When real responses are checked against the document, then the order, the list and the cancelled order conform', async () => {
    const created = await request(built.app).post('/orders').send(orderBody(2)).expect(201);
    expect(validatorFor('Order').safeParse(created.body).error).toBeUndefined();
    const listed = await request(built.app).get('/orders').query({ customerId, limit: '1' }).expect(200);
    expect(validatorFor('OrderList').safeParse(listed.body).error).toBeUndefined();
    const cancelled = await request(built.app)
      .post(`/orders/${created.body.orderId}/cancel`)
      .send({ reason: 'r' })
      .expect(200);
    expect(validatorFor('Order').safeParse(cancelled.body).error).toBeUndefined();
    expect(validatorFor('CancelOrderRequest').safeParse({ reason: 'r', expectedVersion: 1, other: 1 }).success).toBe(
      false,
    );
  });

  test('When the list query is checked by the document and by the API, then `limit` and the customer id agree at their edges', async () => {
    const list = doc.paths['/orders']?.get as { parameters: { name: string; schema: Record<string, unknown> }[] };
    const limit = list.parameters.find((p) => p.name === 'limit');
    expect(limit?.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 });
    for (const [value, accepted] of [
      ['0', false],
      ['1', true],
      ['100', true],
      ['101', false],
      ['1.5', false],
      ['x', false],
    ] as const) {
      const response = await request(built.app).get('/orders').query({ customerId, limit: value });
      expect({ value, status: response.status }).toEqual({ value, status: accepted ? 200 : 422 });
    }
  });

  test('When headers are checked, then the documented Idempotency-Key pattern is what the API enforces and X-Request-Id is documented as it behaves', async () => {
    const post = doc.paths['/orders']?.post as {
      parameters: { name: string; schema: { pattern?: string } }[];
      responses: Record<string, { headers: Record<string, { schema: { pattern?: string } }> }>;
    };
    const keyPattern = new RegExp(post.parameters.find((p) => p.name === 'Idempotency-Key')?.schema.pattern as string);
    for (const key of ['k', '~'.repeat(255), '~'.repeat(256), 'with space', 'é']) {
      const response = await request(built.app).post('/orders').set('Idempotency-Key', key).send(orderBody(1));
      expect({ key, status: response.status }).toEqual({ key, status: keyPattern.test(key) ? 201 : 400 });
    }
    // Any request value is accepted (a bad one is replaced), so the request side has no pattern...
    expect(post.parameters.find((p) => p.name === 'X-Request-Id')?.schema).toEqual({ type: 'string' });
    // ...and every answer carries an id that matches the documented response pattern.
    const idPattern = new RegExp(post.responses['201']?.headers['X-Request-Id']?.schema.pattern as string);
    for (const sent of ['req-1', 'bad id', '']) {
      const response = await request(built.app).get('/orders/not-an-order').set('X-Request-Id', sent).expect(404);
      expect(response.headers['x-request-id']).toMatch(idPattern);
    }
  });

  test('When the document lists statuses, then every operation has its problems and none documents a 500', () => {
    const statuses = (path: string, method: string) =>
      Object.keys((doc.paths[path]?.[method] as { responses: object }).responses).sort();
    expect(statuses('/orders', 'get')).toEqual(['200', '422', '503']);
    expect(statuses('/orders/{orderId}', 'get')).toEqual(['200', '400', '404', '503']);
    expect(statuses('/orders/{orderId}/cancel', 'post')).toEqual([
      '200',
      '400',
      '404',
      '409',
      '413',
      '415',
      '422',
      '503',
    ]);
    expect(doc.components.schemas.PlaceOrderRequest).toMatchObject({
      properties: {
        items: {
          items: { properties: { price: { type: 'number', minimum: 0, maximum: 1000000000, multipleOf: 0.01 } } },
        },
        total: { type: 'number', minimum: 0, maximum: 9999999999999.99, multipleOf: 0.01 },
      },
    });
    expect(Object.keys(doc.paths)).not.toEqual(expect.arrayContaining(['/healthz']));
  });

  test("When the document's event components are compared with the shared contract's generated JSON Schema files, then they are the same schemas", () => {
    const files = eventJsonSchemaFiles();
    const withoutHead = (schema: Record<string, unknown>) => {
      const { $schema: _dialect, $id: _id, ...rest } = schema;
      return rest;
    };
    expect(doc.components.schemas.OrderEventEnvelope).toEqual(withoutHead(files['orderEventEnvelope.schema.json']));
    expect(doc.components.schemas.OrderCreatedV1).toEqual(withoutHead(files['OrderCreated.v1.schema.json']));
    expect(doc.components.schemas.OrderCancelledV1).toEqual(withoutHead(files['OrderCancelled.v1.schema.json']));
  });

  test('When authentication is on, then the document declares the bearerAuth scheme on every operation, 401 everywhere and 403 where another customer can be named', () => {
    const secured = openApiDocument({ authEnabled: true, maxBodyBytes: 65536 }) as Doc & {
      security: unknown;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(secured.security).toEqual([{ bearerAuth: [] }]);
    expect(secured.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    const operation = (path: string, method: string) =>
      secured.paths[path]?.[method] as { security: unknown; responses: Record<string, unknown> };
    const all = [
      ['/orders', 'post'],
      ['/orders', 'get'],
      ['/orders/{orderId}', 'get'],
      ['/orders/{orderId}/cancel', 'post'],
    ] as const;
    for (const [path, method] of all) {
      expect(operation(path, method).security).toEqual([{ bearerAuth: [] }]);
      expect(Object.keys(operation(path, method).responses)).toContain('401');
    }
    expect(Object.keys(operation('/orders', 'post').responses)).toContain('403');
    expect(Object.keys(operation('/orders', 'get').responses)).toContain('403');
    // Another customer's order is "not found" (404), never a 403 that would confirm it exists.
    expect(Object.keys(operation('/orders/{orderId}', 'get').responses)).not.toContain('403');
    expect(Object.keys(operation('/orders/{orderId}/cancel', 'post').responses)).toEqual(
      expect.arrayContaining(['401', '404']),
    );
    expect(Object.keys(operation('/orders/{orderId}/cancel', 'post').responses)).not.toContain('403');
  });
});
