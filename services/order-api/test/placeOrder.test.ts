import request from 'supertest';
import { MAX_ITEMS_PER_ORDER } from '../src/domain/placeOrderInput';
import { orderResponse } from '../src/http/orderView';
import { buildTestApp, createTestTables, customerId, orderBody, scanAll, tablesSnapshot } from './support/testApp';
import type { TestTables } from '@outbox/testkit';

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
    await expectRejected(() => request(built.app).get('/nowhere'), 404, 'route-not-found');
    const notAllowed = await expectRejected(
      () => request(built.app).delete('/orders'),
      405,
      'request-method-not-allowed',
    );
    expect(notAllowed.headers.allow).toBe('GET, POST, HEAD, OPTIONS');
    await expectRejected(
      () => request(built.app).put(`/orders/00000000-0000-4000-8000-000000000000/cancel`),
      405,
      'request-method-not-allowed',
    );
    await expectRejected(
      () => request(built.app).post('/orders').set('content-type', 'application/json; charset=latin1').send('{}'),
      415,
      'request-unsupported-encoding',
    );
  });

  /** Posts a body written as JSON text, so numbers reach the API exactly as typed. */
  const postText = (text: string) =>
    request(built.app).post('/orders').set('content-type', 'application/json').send(text);
  const line = (price: string, quantity = 1) => `{"productId":"p","quantity":${quantity},"price":${price}}`;
  const bodyText = (lines: string[], total?: string) =>
    `{"customerId":"${customerId}","items":[${lines.join(',')}]${total === undefined ? '' : `,"total":${total}`}}`;

  test('When prices are at the bounds (0, 0.01, the maximum 1000000000.00) or written as 1.10 or 2e2, then they are stored exactly from the text', async () => {
    const response = await postText(
      bodyText(
        [line('0'), line('0.01'), line('1000000000.00', 1000), line('1.10', 3), line('2e2')],
        '1000000000203.31',
      ),
    ).expect(201);
    expect(response.body.items.map((l: { priceMinor: number }) => l.priceMinor)).toEqual([
      0, 1, 100_000_000_000, 110, 20000,
    ]);
    expect(response.body).toMatchObject({ totalMinor: 100_000_000_020_331, total: 1000000000203.31 });
    const meta = (await scanAll(tables.orders)).find(
      (item) => item.pk === `ORDER#${response.body.orderId}` && item.sk === 'META',
    );
    expect(meta).toMatchObject({ totalMinor: 100_000_000_020_331 });
  });

  test('When a price has more than 2 decimals in its text (0.30000000000000001, 1.005, 1e-7), then it answers 422 naming the field and stores nothing, although a double would read 0.3', async () => {
    for (const price of ['0.30000000000000001', '1.005', '1e-7', '19.999999999999999999']) {
      const response = await expectRejected(
        () => postText(bodyText([line('1'), line(price)])),
        422,
        'request-validation-failed',
      );
      expect(response.body.errors).toEqual([{ field: 'items.1.price', message: 'must have at most 2 decimal places' }]);
    }
  });

  test('When a price is over the maximum (1000000000.01, 80000000000000.01, 1e400), then it answers 422 naming the maximum and stores nothing', async () => {
    for (const price of ['1000000000.01', '80000000000000.01', '1e400']) {
      const response = await expectRejected(() => postText(bodyText([line(price)])), 422, 'request-validation-failed');
      expect(response.body.errors).toEqual(
        expect.arrayContaining([{ field: 'items.0.price', message: 'must be at most 1000000000' }]),
      );
    }
  });

  test('When the submitted total has sub-cent text or is over the maximum total, then it answers 422 on `total` and stores nothing', async () => {
    const tooPrecise = await expectRejected(
      () => postText(bodyText([line('0.1', 3)], '0.30000000000000001')),
      422,
      'request-validation-failed',
    );
    expect(tooPrecise.body.errors).toEqual([{ field: 'total', message: 'must have at most 2 decimal places' }]);
    const tooLarge = await expectRejected(
      () => postText(bodyText([line('0.1', 3)], '10000000000000.00')),
      422,
      'request-validation-failed',
    );
    expect(tooLarge.body.errors).toEqual([{ field: 'total', message: 'must be at most 9999999999999.99' }]);
  });

  test('When the computed total is at the maximum total, then it is stored exactly; one cent over, it answers 422 order.total_too_large and stores nothing', async () => {
    // 9 lines of 1000000000.00 × 1000 = 9000000000000.00, plus 999999999999.99.
    const atMax = [
      ...Array.from({ length: 9 }, () => line('1000000000', 1000)),
      line('999999999.99', 1000),
      line('0.99', 1),
    ];
    // 999999999.99 × 1000 = 999999999990.00; + 0.99 → 9999999999990.99; then 9.00 more reaches the maximum.
    const response = await postText(bodyText([...atMax, line('9')], '9999999999999.99')).expect(201);
    expect(response.body).toMatchObject({ totalMinor: 999_999_999_999_999, total: 9999999999999.99 });

    const over = await expectRejected(() => postText(bodyText([...atMax, line('9.01')])), 422, 'order-total-too-large');
    expect(over.body).toMatchObject({
      maxTotal: 9999999999999.99,
      maxTotalMinor: 999_999_999_999_999,
      computedTotal: '10000000000000.00',
    });
    // The largest order the bounds allow is refused whole, with the exact computed total.
    const largest = await expectRejected(
      () => postText(bodyText(Array.from({ length: MAX_ITEMS_PER_ORDER }, () => line('1000000000', 1000)))),
      422,
      'order-total-too-large',
    );
    expect(largest.body.computedTotal).toBe('97000000000000.00');
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
