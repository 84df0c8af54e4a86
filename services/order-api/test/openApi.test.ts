import request from 'supertest';
import { z } from 'zod';
import { MAX_ITEMS_PER_ORDER } from '../src/domain/placeOrderInput';
import { openApiDocument } from '../src/http/openApiDocument';
import { buildTestApp, createTestTables, customerId, orderBody } from './support/testApp';
import type { TestTables } from '../../../test/support/testStack';

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

  test('When authentication is on, then the document declares the bearer scheme and the 401 answers', () => {
    const secured = openApiDocument({ authEnabled: true, maxBodyBytes: 65536 }) as Doc & {
      security: unknown;
      components: { securitySchemes: unknown };
    };
    expect(secured.security).toEqual([{ bearer: [] }]);
    expect(secured.components.securitySchemes).toEqual({
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    });
    expect(Object.keys((secured.paths['/orders']?.post as { responses: object }).responses)).toContain('401');
  });
});
