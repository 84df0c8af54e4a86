import { metricValue } from '@outbox/testkit';
import request from 'supertest';
import { buildTestApp, createTestTables, customerId, orderBody } from './support/testApp';
import type { TestTables } from '@outbox/testkit';

describe('order-api request ids, logs and metrics', () => {
  let tables: TestTables;
  let built: ReturnType<typeof buildTestApp>;

  beforeAll(async () => {
    tables = await createTestTables();
    built = buildTestApp({ tables });
  });
  afterAll(() => built.destroy());

  const logsOf = (requestId: string) =>
    built.logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.requestId === requestId);

  test('When a request brings an X-Request-Id, then the response returns it and the log line carries it, with no body or customer data', async () => {
    const response = await request(built.app)
      .post('/orders')
      .set('X-Request-Id', 'req-abc.123')
      .send({ ...orderBody(1), items: [{ productId: 'secret-sku', quantity: 1, price: 4.2 }] })
      .expect(201);
    expect(response.headers['x-request-id']).toBe('req-abc.123');
    const lines = logsOf('req-abc.123');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        method: 'POST',
        route: '/orders',
        status: 201,
        service: 'order-api-test',
      }),
    ]);
    const text = JSON.stringify(lines);
    for (const secret of [customerId, 'secret-sku', '4.2', response.body.orderId]) expect(text).not.toContain(secret);
  });

  test('When a request has no usable X-Request-Id, then one is created, returned, and named in its problem document', async () => {
    const missing = await request(built.app).get('/orders/00000000-0000-4000-8000-000000000000').expect(404);
    expect(missing.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(missing.body.requestId).toBe(missing.headers['x-request-id']);
    const unsafe = await request(built.app).get('/openapi.json').set('X-Request-Id', 'bad id\twith spaces').expect(200);
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(logsOf(missing.headers['x-request-id'] as string)).toHaveLength(1);
  });

  test('When a listing is logged, then the customer id in its query stays out of the log', async () => {
    const response = await request(built.app).get('/orders').query({ customerId }).expect(200);
    const text = JSON.stringify(logsOf(response.headers['x-request-id'] as string));
    expect(text).toContain('"route":"/orders"');
    expect(text).not.toContain(customerId);
  });

  test('When orders are created, cancelled and rejected, then /metrics shows durations by route, method and status, and the order and outbox counters', async () => {
    const created = await request(built.app).post('/orders').send(orderBody()).expect(201);
    await request(built.app).post(`/orders/${created.body.orderId}/cancel`).send({}).expect(200);
    await request(built.app).post(`/orders/${created.body.orderId}/cancel`).send({}).expect(409);
    await request(built.app).get(`/orders/${created.body.orderId}`).expect(200);
    // The app has no /metrics (it lives on the ops port): read the registry it records into.
    const text = await built.registry.metrics();
    expect(text).toMatch(
      /order_api_http_request_duration_seconds_count\{service="order-api-test",route="\/orders",method="POST",status="201"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(
      /order_api_http_request_duration_seconds_count\{service="order-api-test",route="\/orders\/:orderId\/cancel",method="POST",status="200"\} 1$/m,
    );
    expect(text).toMatch(
      /order_api_http_request_duration_seconds_count\{service="order-api-test",route="\/orders\/:orderId\/cancel",method="POST",status="409"\} 1$/m,
    );
    expect(text).toMatch(
      /order_api_http_request_duration_seconds_count\{service="order-api-test",route="\/orders\/:orderId",method="GET",status="200"\} 1$/m,
    );
    expect(metricValue(text, 'order_api_orders_created_total', { service: 'order-api-test' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(metricValue(text, 'order_api_orders_cancelled_total', { service: 'order-api-test' })).toBe(1);
    expect(
      metricValue(text, 'order_api_outbox_events_written_total', {
        event_type: 'OrderCreated',
        service: 'order-api-test',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metricValue(text, 'order_api_outbox_events_written_total', {
        event_type: 'OrderCancelled',
        service: 'order-api-test',
      }),
    ).toBe(1);
    expect(text).toContain('# TYPE order_api_transaction_conflicts_total counter');
  });
});
