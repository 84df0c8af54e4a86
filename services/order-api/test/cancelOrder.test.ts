import request from 'supertest';
import { createServer, type Server } from 'node:http';
import { closeServer, listen } from '@outbox/shared';
import { orderResponse } from '../src/http/orderView';
import { OrderRepository } from '../src/data/OrderRepository';
import { buildTestApp, createTestTables, customerId, orderBody, scanAll, tablesSnapshot } from './support/testApp';
import type { TestTables } from '../../../test/support/testStack';

describe('POST /orders/:id/cancel against DynamoDB Local', () => {
  let tables: TestTables;
  let built: ReturnType<typeof buildTestApp>;
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    tables = await createTestTables();
    built = buildTestApp({ tables });
    server = createServer(built.app);
    baseUrl = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    await closeServer(server);
    built.destroy();
  });

  const placeOrder = async () =>
    (await request(built.app).post('/orders').send(orderBody(2)).expect(201)).body as { orderId: string };
  const eventsOf = async (orderId: string) =>
    (await scanAll(tables.outbox))
      .filter((item) => item.aggregateId === orderId)
      .sort((a, b) => Number(a.seq) - Number(b.seq));

  test('When a CREATED order is cancelled, then it answers 200 with version 2 and writes OrderCancelled with seq 2 in the same step', async () => {
    const { orderId } = await placeOrder();
    const response = await request(built.app)
      .post(`/orders/${orderId}/cancel`)
      .send({ reason: 'found it cheaper' })
      .expect(200);
    const order = orderResponse.parse(response.body);
    expect(order).toMatchObject({
      orderId,
      status: 'CANCELLED',
      version: 2,
      cancelReason: 'found it cheaper',
      totalMinor: 220,
    });
    expect(order.items).toHaveLength(2);

    const events = await eventsOf(orderId);
    expect(events.map((event) => [event.seq, event.eventType])).toEqual([
      [1, 'OrderCreated'],
      [2, 'OrderCancelled'],
    ]);
    const cancelled = events[1] as Record<string, unknown>;
    expect(cancelled).toMatchObject({
      aggregateType: 'Order',
      aggregateId: orderId,
      schemaVersion: 1,
      occurredAt: order.cancelledAt,
    });
    expect(cancelled.payload).toEqual({
      orderId,
      customerId,
      status: 'CANCELLED',
      previousStatus: 'CREATED',
      currency: 'EUR',
      totalMinor: 220,
      itemCount: 2,
      cancelledAt: order.cancelledAt,
      reason: 'found it cheaper',
    });
    expect(typeof cancelled.expiresAt).toBe('number');
    const stored = await request(built.app).get(`/orders/${orderId}`).expect(200);
    expect(stored.body).toEqual(response.body);
  });

  test('When an order is cancelled without a body, then it is cancelled and the event has no reason', async () => {
    const { orderId } = await placeOrder();
    await request(built.app).post(`/orders/${orderId}/cancel`).expect(200);
    const [, cancelled] = await eventsOf(orderId);
    expect(cancelled?.payload).not.toHaveProperty('reason');
  });

  test('When a cancelled order is cancelled again, then it answers 409 with the current state and changes nothing', async () => {
    const { orderId } = await placeOrder();
    await request(built.app).post(`/orders/${orderId}/cancel`).send({}).expect(200);
    const before = await tablesSnapshot(tables);
    const response = await request(built.app).post(`/orders/${orderId}/cancel`).send({}).expect(409);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({
      type: 'https://outbox.example.com/problems/order-invalid-state',
      current: { orderId, status: 'CANCELLED', version: 2 },
      allowedStatuses: ['CREATED'],
    });
    expect(await tablesSnapshot(tables)).toEqual(before);
  });

  test('When the client expects another version, then it answers 409 version conflict with the current state and changes nothing', async () => {
    const { orderId } = await placeOrder();
    const before = await tablesSnapshot(tables);
    const response = await request(built.app)
      .post(`/orders/${orderId}/cancel`)
      .send({ expectedVersion: 7 })
      .expect(409);
    expect(response.body).toMatchObject({
      type: 'https://outbox.example.com/problems/order-version-conflict',
      current: { orderId, status: 'CREATED', version: 1 },
      expectedVersion: 7,
    });
    expect(await tablesSnapshot(tables)).toEqual(before);
    await request(built.app).post(`/orders/${orderId}/cancel`).send({ expectedVersion: 1 }).expect(200);
  });

  test('When the order does not exist or the body is invalid, then it answers 404 or 422/415 and changes nothing', async () => {
    const { orderId } = await placeOrder();
    const before = await tablesSnapshot(tables);
    const missing = await request(built.app)
      .post('/orders/00000000-0000-4000-8000-000000000000/cancel')
      .send({})
      .expect(404);
    expect(missing.body.type).toMatch(/order-not-found$/);
    const invalid = await request(built.app)
      .post(`/orders/${orderId}/cancel`)
      .send({ reason: '', expectedVersion: 0, why: 'x' })
      .expect(422);
    expect(invalid.body.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(['reason', 'expectedVersion', '(body)']),
    );
    await request(built.app)
      .post(`/orders/${orderId}/cancel`)
      .set('content-type', 'text/plain')
      .send('please')
      .expect(415);
    await request(built.app)
      .post(`/orders/${orderId}/cancel`)
      .set('content-type', 'application/json')
      .send('{oops')
      .expect(400);
    expect(await tablesSnapshot(tables)).toEqual(before);
  });

  test('When 20 cancels of one order arrive at once, then exactly one succeeds, the others get 409 with the current state, and the events are seq 1 and 2 only', async () => {
    const { orderId } = await placeOrder();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(baseUrl)
          .post(`/orders/${orderId}/cancel`)
          .send({ reason: `attempt ${i}` }),
      ),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, ...Array(19).fill(409)]);
    const winner = responses.find((r) => r.status === 200);
    for (const loser of responses.filter((r) => r.status === 409)) {
      expect(loser.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(loser.body.current).toEqual({ orderId, status: 'CANCELLED', version: 2 });
    }
    const events = await eventsOf(orderId);
    expect(events.map((event) => event.seq)).toEqual([1, 2]);
    expect((events[1]?.payload as { reason: string }).reason).toBe(winner?.body.cancelReason);
    const meta = (await scanAll(tables.orders)).find((item) => item.pk === `ORDER#${orderId}` && item.sk === 'META');
    expect(meta).toMatchObject({ status: 'CANCELLED', version: 2, cancelReason: winner?.body.cancelReason });
  });

  test('When 20 cancels all read version 1 before any writes (reads held at a barrier), then the version condition lets exactly one commit and 19 get 409 with the current state', async () => {
    const { orderId } = await placeOrder();
    const racers = 20;
    let arrived = 0;
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => (release = resolve));
    // The real repository; the first read of each request waits until all twenty have read.
    class BarrierRepository extends OrderRepository {
      override async findOrder(id: string) {
        const order = await super.findOrder(id);
        if (arrived < racers) {
          arrived += 1;
          if (arrived === racers) release();
          await barrier;
        }
        return order;
      }
    }
    const raced = buildTestApp({ tables, makeRepository: (options) => new BarrierRepository(options) });
    const racedServer = createServer(raced.app);
    const url = `http://127.0.0.1:${await listen(racedServer, 0, '127.0.0.1')}`;
    try {
      const responses = await Promise.all(
        Array.from({ length: racers }, () => request(url).post(`/orders/${orderId}/cancel`).send({})),
      );
      expect(responses.map((r) => r.status).sort()).toEqual([200, ...Array(racers - 1).fill(409)]);
      for (const loser of responses.filter((r) => r.status === 409)) {
        expect(loser.body.current).toEqual({ orderId, status: 'CANCELLED', version: 2 });
      }
      expect((await eventsOf(orderId)).map((event) => event.seq)).toEqual([1, 2]);
      const metrics = await raced.registry.metrics();
      expect(metrics.split('\n')).toContain(
        `order_api_transaction_conflicts_total{operation="cancel",reason="order_changed",service="order-api-test"} ${racers - 1}`,
      );
      expect(metrics).toMatch(/order_api_orders_cancelled_total\{[^}]*\} 1$/m);
      expect(metrics.split('\n')).toContain(
        'order_api_outbox_events_written_total{event_type="OrderCancelled",service="order-api-test"} 1',
      );
    } finally {
      await closeServer(racedServer);
      raced.destroy();
    }
  });
});
