import { metricValue } from '@outbox/testkit';
import request from 'supertest';
import { createDynamoDbClients, createLogger, createMetricsRegistry } from '@outbox/shared';
import { createApp } from '../src/http/createApp';
import { createApiMetrics } from '../src/http/apiMetrics';
import { OrderRepository } from '../src/data/OrderRepository';
import { createTestTables, scanAll, testEndpoints, type TestTables } from '@outbox/testkit';

const customerId = '5f0c3c3e-8f7a-4c1e-9a53-2f1d3b7f9a10';

describe('order-api against DynamoDB Local', () => {
  let tables: TestTables;
  let app: ReturnType<typeof createApp>;
  let registry: ReturnType<typeof createMetricsRegistry>;
  let destroy: () => void;

  beforeAll(async () => {
    tables = await createTestTables();
    const { region, dynamodb } = testEndpoints();
    const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
    destroy = () => client.destroy();
    registry = createMetricsRegistry({ service: 'order-api-test', defaultMetrics: false });
    app = createApp({
      repository: new OrderRepository({
        doc,
        ordersTable: tables.orders,
        outboxTable: tables.outbox,
        outboxRetentionDays: 7,
      }),
      metrics: createApiMetrics(registry),
      logger: createLogger({ service: 'order-api-test', level: 'silent' }),
      currency: 'EUR',
      maxBodyBytes: 65536,
    });
  });
  afterAll(() => destroy());

  const tableSizes = async () => ({
    orders: (await scanAll(tables.orders)).length,
    outbox: (await scanAll(tables.outbox)).length,
  });

  test('When an order is posted, then it answers 201 with Location and stores the order, its items and one OrderCreated event', async () => {
    const response = await request(app)
      .post('/orders')
      .send({
        customerId,
        items: [
          { productId: 'sku-1', quantity: 3, price: 0.1 },
          { productId: 'sku-2', quantity: 1, price: 19.99 },
        ],
      })
      .expect(201);

    const { orderId } = response.body;
    expect(response.headers.location).toBe(`/orders/${orderId}`);
    expect(response.body).toMatchObject({
      customerId,
      status: 'CREATED',
      currency: 'EUR',
      total: 20.29,
      totalMinor: 2029,
      version: 1,
    });
    const orderItems = (await scanAll(tables.orders)).filter((item) => item.pk === `ORDER#${orderId}`);
    expect(orderItems.map((item) => item.sk).sort()).toEqual(['ITEM#001', 'ITEM#002', 'META']);
    const events = (await scanAll(tables.outbox)).filter((item) => item.aggregateId === orderId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ eventType: 'OrderCreated', seq: 1, aggregateType: 'Order', schemaVersion: 1 });
    expect(events[0].payload).toMatchObject({ orderId, customerId, totalMinor: 2029, currency: 'EUR' });
    expect(typeof events[0].expiresAt).toBe('number');
    expect(metricValue(await registry.metrics(), 'order_api_orders_created_total')).toBe(1);
  });

  test('When a stored order is read, then GET returns it with its items', async () => {
    const created = await request(app)
      .post('/orders')
      .send({ customerId, items: [{ productId: 'sku-9', quantity: 2, price: 12.5 }] })
      .expect(201);
    const response = await request(app).get(`/orders/${created.body.orderId}`).expect(200);
    expect(response.body).toMatchObject({
      orderId: created.body.orderId,
      total: 25,
      items: [{ productId: 'sku-9', quantity: 2, price: 12.5, lineTotal: 25 }],
    });
  });

  test('When the body fails validation, then it answers 422 problem+json naming every field and stores nothing', async () => {
    const before = await tableSizes();
    const response = await request(app)
      .post('/orders')
      .send({ customerId: 'nope', items: [{ productId: '', quantity: 0, price: 1.005 }], extra: true })
      .expect(422);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const fields = response.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining(['customerId', 'items.0.productId', 'items.0.quantity', 'items.0.price', '(body)']),
    );
    expect(await tableSizes()).toEqual(before);
  });

  test('When the body is not JSON, then it answers 400 or 415 problem+json and stores nothing', async () => {
    const before = await tableSizes();
    const malformed = await request(app)
      .post('/orders')
      .set('content-type', 'application/json')
      .send('{"customerId":')
      .expect(400);
    expect(malformed.body.type).toMatch(/request-malformed-json$/);
    const wrongType = await request(app).post('/orders').set('content-type', 'text/plain').send('hello').expect(415);
    expect(wrongType.body.type).toMatch(/request-unsupported-media-type$/);
    expect(await tableSizes()).toEqual(before);
  });

  test('When an order does not exist, then GET answers 404 problem+json', async () => {
    const response = await request(app).get('/orders/00000000-0000-4000-8000-000000000000').expect(404);
    expect(response.body).toMatchObject({ status: 404, code: 'order.not_found' });
  });
});
