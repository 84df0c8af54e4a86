import request from 'supertest';
import { MAX_ITEMS_PER_ORDER } from '../src/domain/placeOrderInput';
import { orderResponse } from '../src/http/orderView';
import { buildTestApp, createTestTables, customerId, orderBody, scanAll, tablesSnapshot } from './support/testApp';
import type { TestTables } from '../../../test/support/testStack';

describe('POST /orders against DynamoDB Local', () => {
  let tables: TestTables;
  let built: ReturnType<typeof buildTestApp>;

  beforeAll(async () => {
    tables = await createTestTables();
    built = buildTestApp({ tables, maxBodyBytes: 8192 });
  });
  afterAll(() => built.destroy());

  /** Sends a request that must be rejected and proves that neither table changed. */
  async function expectRejected(send: () => Promise<request.Response>, status: number, type: string) {
    const before = await tablesSnapshot(tables);
    const response = await send();
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status, type: `https://outbox.example.com/problems/${type}` });
    expect(await tablesSnapshot(tables)).toEqual(before);
    return response;
  }

  test('When a valid order is posted, then it answers 201 with Location and the order (id, status, exact total, currency, items, version, createdAt)', async () => {
    const response = await request(built.app)
      .post('/orders')
      .send({
        customerId,
        items: [
          { productId: 'a', quantity: 3, price: 0.1 },
          { productId: 'b', quantity: 7, price: 0.07 },
          { productId: 'c', quantity: 1, price: 1000000.01 },
        ],
      })
      .expect(201);
    const order = orderResponse.parse(response.body);
    expect(response.headers.location).toBe(`/orders/${order.orderId}`);
    // 0.30 + 0.49 + 1000000.01: floats would give 1000000.8000000001.
    expect(order).toMatchObject({
      status: 'CREATED',
      currency: 'EUR',
      totalMinor: 100000080,
      total: 1000000.8,
      version: 1,
      itemCount: 3,
    });
    expect(order.items.map((line) => line.lineTotalMinor)).toEqual([30, 49, 100000001]);
    expect(Date.parse(order.createdAt)).not.toBeNaN();
    const meta = (await scanAll(tables.orders)).find(
      (item) => item.pk === `ORDER#${order.orderId}` && item.sk === 'META',
    );
    expect(meta).toMatchObject({ totalMinor: 100000080, version: 1, gsi1pk: `CUSTOMER#${customerId}` });
  });

  test('When the client sends a total equal to the computed one, then the order is created', async () => {
    await request(built.app)
      .post('/orders')
      .send({ customerId, items: [{ productId: 'a', quantity: 3, price: 0.1 }], total: 0.3 })
      .expect(201);
  });

  test('When the client total differs from the computed total, then it answers 422 naming both values and stores nothing', async () => {
    const response = await expectRejected(
      () =>
        request(built.app)
          .post('/orders')
          .send({ customerId, items: [{ productId: 'a', quantity: 3, price: 0.1 }], total: 0.31 }),
      422,
      'order-total-mismatch',
    );
    expect(response.body).toMatchObject({
      submittedTotal: 0.31,
      computedTotal: 0.3,
      submittedTotalMinor: 31,
      computedTotalMinor: 30,
    });
  });

  test(`When an order has ${MAX_ITEMS_PER_ORDER} items and an Idempotency-Key, then the 100-action transaction commits`, async () => {
    const response = await request(built.app)
      .post('/orders')
      .set('Idempotency-Key', 'max-items')
      .send(orderBody(MAX_ITEMS_PER_ORDER))
      .expect(201);
    expect(response.body.items).toHaveLength(MAX_ITEMS_PER_ORDER);
    expect(response.body.totalMinor).toBe(MAX_ITEMS_PER_ORDER * 110);
    const stored = (await scanAll(tables.orders)).filter((item) => item.pk === `ORDER#${response.body.orderId}`);
    expect(stored).toHaveLength(MAX_ITEMS_PER_ORDER + 1);
  });

  test(`When an order has ${MAX_ITEMS_PER_ORDER + 1} items, then it answers 422 naming the maximum and stores nothing`, async () => {
    const response = await expectRejected(
      () =>
        request(built.app)
          .post('/orders')
          .send(orderBody(MAX_ITEMS_PER_ORDER + 1)),
      422,
      'order-too-many-items',
    );
    expect(response.body).toMatchObject({ maxItems: MAX_ITEMS_PER_ORDER, itemCount: MAX_ITEMS_PER_ORDER + 1 });
    expect(response.body.detail).toContain(String(MAX_ITEMS_PER_ORDER));
  });

  test('When every field is wrong, then it answers 422 naming every failing field and stores nothing', async () => {
    const response = await expectRejected(
      () =>
        request(built.app)
          .post('/orders')
          .send({
            customerId: 'not-a-uuid',
            items: [
              { productId: '', quantity: 0, price: -1 },
              { productId: 'x'.repeat(65), quantity: 1001, price: 1.005 },
              { productId: 'ok', quantity: 1.5, price: '3', colour: 'red' },
            ],
            total: 'lots',
            coupon: 'FREE',
          }),
      422,
      'request-validation-failed',
    );
    const fields = response.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'customerId',
        'items.0.productId',
        'items.0.quantity',
        'items.0.price',
        'items.1.productId',
        'items.1.quantity',
        'items.1.price',
        'items.2.quantity',
        'items.2.price',
        'items.2',
        'total',
        '(body)',
      ]),
    );
    expect(response.body.errors).toEqual(
      expect.arrayContaining([{ field: '(body)', message: 'unknown field "coupon" is not allowed' }]),
    );
  });

  test('When items are missing or empty, or the body is not an object, then it answers 422 and stores nothing', async () => {
    for (const body of [{ customerId }, { customerId, items: [] }, [1, 2], { customerId, items: 'many' }]) {
      const response = await expectRejected(
        () => request(built.app).post('/orders').send(body),
        422,
        'request-validation-failed',
      );
      expect(response.body.errors.length).toBeGreaterThan(0);
    }
  });

  test('When the body is malformed JSON, then it answers 400 and stores nothing', async () => {
    await expectRejected(
      () => request(built.app).post('/orders').set('content-type', 'application/json').send('{"customerId":'),
      400,
      'request-malformed-json',
    );
  });

  test('When the content type is not JSON, then it answers 415 and stores nothing', async () => {
    await expectRejected(
      () => request(built.app).post('/orders').set('content-type', 'text/plain').send(JSON.stringify(orderBody())),
      415,
      'request-unsupported-media-type',
    );
    await expectRejected(() => request(built.app).post('/orders'), 415, 'request-unsupported-media-type');
  });

  test('When the body is over the limit, then it answers 413 naming the limit and stores nothing', async () => {
    const response = await expectRejected(
      () =>
        request(built.app)
          .post('/orders')
          .send({ ...orderBody(), padding: 'x'.repeat(9000) }),
      413,
      'request-too-large',
    );
    expect(response.body.limitBytes).toBe(8192);
  });

  test('When the input is odd (bad percent-encoding, unknown route, unknown order), then it answers 4xx problem+json, never 500', async () => {
    await expectRejected(() => request(built.app).get('/orders/%E0%A4%A'), 400, 'request-invalid');
    await expectRejected(
      () => request(built.app).get('/orders/00000000-0000-4000-8000-000000000000'),
      404,
      'order-not-found',
    );
    await expectRejected(() => request(built.app).get('/orders/not-an-id'), 404, 'order-not-found');
    await expectRejected(() => request(built.app).delete('/orders'), 404, 'route-not-found');
    await expectRejected(
      () => request(built.app).post('/orders').set('content-type', 'application/json; charset=latin1').send('{}'),
      415,
      'request-unsupported-encoding',
    );
  });

  test('When a price would make the total inexact, then it answers 422 and stores nothing', async () => {
    await expectRejected(
      () =>
        request(built.app)
          .post('/orders')
          .send({
            customerId,
            items: Array.from({ length: 10 }, () => ({ productId: 'p', quantity: 1000, price: 9007199254740.99 })),
          }),
      422,
      'order-total-too-large',
    );
  });

  test('When the body nests deeply, carries __proto__ or huge numbers, with or without a key, then it answers 422, never 500, and stores nothing', async () => {
    const deep = `{"customerId":"${customerId}","items":[{"productId":"p","quantity":1,"price":1}],"x":${'['.repeat(3500)}${']'.repeat(3500)}}`;
    for (const key of [undefined, 'odd-1']) {
      const post = () => {
        const call = request(built.app).post('/orders').set('content-type', 'application/json');
        return key ? call.set('Idempotency-Key', key) : call;
      };
      await expectRejected(() => post().send(deep), 422, 'request-validation-failed');
      await expectRejected(
        () =>
          post().send(
            `{"customerId":"${customerId}","items":[{"productId":"p","quantity":1,"price":1}],"__proto__":{"admin":true}}`,
          ),
        422,
        'request-validation-failed',
      );
      await expectRejected(
        () => post().send(`{"customerId":"${customerId}","items":[{"productId":"p","quantity":1e400,"price":1e400}]}`),
        422,
        'request-validation-failed',
      );
    }
  });
});
