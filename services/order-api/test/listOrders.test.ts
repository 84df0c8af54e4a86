import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { orderListResponse } from '../src/http/orderView';
import { encodeCursor } from '../src/http/listOrdersQuery';
import { TestClock, buildTestApp, createTestTables, orderBody, tablesSnapshot } from './support/testApp';
import type { TestTables } from '@outbox/testkit';

describe('GET /orders by customer against DynamoDB Local', () => {
  let tables: TestTables;
  let built: ReturnType<typeof buildTestApp>;
  const clock = new TestClock();
  const customer = randomUUID();
  const other = randomUUID();
  const placed: string[] = [];

  beforeAll(async () => {
    tables = await createTestTables();
    built = buildTestApp({ tables, clock });
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      placed.push(
        (
          await request(built.app)
            .post('/orders')
            .send(orderBody(i + 1, customer))
            .expect(201)
        ).body.orderId,
      );
    }
    await request(built.app).post('/orders').send(orderBody(1, other)).expect(201);
    await request(built.app).post(`/orders/${placed[1]}/cancel`).send({}).expect(200);
  });
  afterAll(() => built.destroy());

  test('When a customer pages through with limit 2, then the orders come newest first, each once, with a cursor until the last page', async () => {
    const seen: string[] = [];
    const cursors: (string | undefined)[] = [];
    let cursor: string | undefined;
    do {
      const response = await request(built.app)
        .get('/orders')
        .query({ customerId: customer, limit: '2', ...(cursor ? { cursor } : {}) })
        .expect(200);
      const page = orderListResponse.parse(response.body);
      expect(page.orders.length).toBeLessThanOrEqual(2);
      seen.push(...page.orders.map((order) => order.orderId));
      cursor = page.nextCursor;
      cursors.push(cursor);
    } while (cursor);
    expect(seen).toEqual([...placed].reverse());
    expect(cursors.filter(Boolean)).toHaveLength(2);
    // The cursor is opaque to clients: no table key shows through.
    expect(cursors[0]).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  test('When a customer lists without a limit, then one page holds every order as a summary with the current state', async () => {
    const response = await request(built.app).get('/orders').query({ customerId: customer }).expect(200);
    const page = orderListResponse.parse(response.body);
    expect(page.nextCursor).toBeUndefined();
    expect(page.orders.map((order) => order.itemCount)).toEqual([5, 4, 3, 2, 1]);
    expect(page.orders[3]).toMatchObject({ orderId: placed[1], status: 'CANCELLED', version: 2 });
    expect(page.orders.every((order) => order.customerId === customer)).toBe(true);
  });

  test('When a customer has no orders, then the page is empty', async () => {
    const response = await request(built.app).get('/orders').query({ customerId: randomUUID() }).expect(200);
    expect(response.body).toEqual({ orders: [] });
  });

  test('When the query is invalid, then it answers 422 naming every failing parameter and changes nothing', async () => {
    const before = await tablesSnapshot(tables);
    const response = await request(built.app)
      .get('/orders')
      .query({ customerId: 'nope', limit: '0', sort: 'asc' })
      .expect(422);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(['customerId', 'limit', '(query)']),
    );
    await request(built.app).get('/orders').query({ customerId: customer, limit: '101' }).expect(422);
    await request(built.app)
      .get('/orders?customerId=' + customer + '&limit=1&limit=2')
      .expect(422);
    await request(built.app).get('/orders').expect(422);
    expect(await tablesSnapshot(tables)).toEqual(before);
  });

  test("When a cursor is forged or belongs to another customer, then it answers 422, never another customer's orders", async () => {
    const first = await request(built.app).get('/orders').query({ customerId: customer, limit: '1' }).expect(200);
    const foreign = await request(built.app)
      .get('/orders')
      .query({ customerId: other, cursor: first.body.nextCursor })
      .expect(422);
    expect(foreign.body.errors).toEqual([{ field: 'cursor', message: 'is not a valid cursor for this customer' }]);
    await request(built.app).get('/orders').query({ customerId: customer, cursor: 'not-a-cursor' }).expect(422);
    const tampered = encodeCursor({
      pk: 'IDEMPOTENCY#x',
      sk: 'IDEMPOTENCY',
      gsi1pk: `CUSTOMER#${customer}`,
      gsi1sk: 'x',
    });
    await request(built.app).get('/orders').query({ customerId: customer, cursor: tampered }).expect(422);
  });
});
