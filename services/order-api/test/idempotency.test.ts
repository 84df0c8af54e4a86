import { metricValue } from '@outbox/testkit';
import request from 'supertest';
import { createServer, type Server } from 'node:http';
import { listen, closeServer } from '@outbox/shared';
import { OrderRepository } from '../src/data/OrderRepository';
import {
  TestClock,
  buildTestApp,
  createTestTables,
  customerId,
  orderBody,
  scanAll,
  tablesSnapshot,
} from './support/testApp';
import type { TestTables } from '@outbox/testkit';

describe('Idempotency-Key against DynamoDB Local', () => {
  let tables: TestTables;
  let built: ReturnType<typeof buildTestApp>;
  let server: Server;
  let baseUrl: string;
  const clock = new TestClock();
  const ttlSeconds = 3600;

  beforeAll(async () => {
    tables = await createTestTables();
    built = buildTestApp({ tables, clock, idempotencyTtlSeconds: ttlSeconds });
    // A real listening server, so concurrent requests really overlap.
    server = createServer(built.app);
    baseUrl = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    await closeServer(server);
    built.destroy();
  });

  const ordersOf = async (orderIds: string[]) =>
    (await scanAll(tables.orders)).filter((item) => item.sk === 'META' && orderIds.includes(String(item.orderId)));
  const eventsOf = async (orderId: string) =>
    (await scanAll(tables.outbox)).filter((item) => item.aggregateId === orderId);

  test('When a request is retried with the same key and body, then it returns the original status and body with no second order or event', async () => {
    const body = orderBody(2);
    const first = await request(built.app).post('/orders').set('Idempotency-Key', 'retry-1').send(body).expect(201);
    const before = await tablesSnapshot(tables);
    // Same content, other key order and spacing: still the same request.
    const retry = await request(built.app)
      .post('/orders')
      .set('Idempotency-Key', 'retry-1')
      .set('content-type', 'application/json')
      .send(`{ "items": ${JSON.stringify(body.items)}, "customerId": "${customerId}" }`)
      .expect(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.location).toBe(first.headers.location);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(await tablesSnapshot(tables)).toEqual(before);
    expect(await eventsOf(first.body.orderId)).toHaveLength(1);
    expect(metricValue(await built.registry.metrics(), 'order_api_idempotent_replays_total')).toBe(1);
  });

  test('When the key is reused with another body, then it answers 422 and changes nothing', async () => {
    await request(built.app).post('/orders').set('Idempotency-Key', 'reuse-1').send(orderBody(1)).expect(201);
    const before = await tablesSnapshot(tables);
    const response = await request(built.app)
      .post('/orders')
      .set('Idempotency-Key', 'reuse-1')
      .send(orderBody(2))
      .expect(422);
    expect(response.body.type).toMatch(/idempotency-key-reused$/);
    expect(await tablesSnapshot(tables)).toEqual(before);
  });

  test('When the key is malformed, then it answers 400 and changes nothing', async () => {
    const before = await tablesSnapshot(tables);
    const response = await request(built.app)
      .post('/orders')
      .set('Idempotency-Key', 'x'.repeat(256))
      .send(orderBody())
      .expect(400);
    expect(response.body.type).toMatch(/idempotency-invalid-key$/);
    expect(await tablesSnapshot(tables)).toEqual(before);
  });

  const replays = async () =>
    (await built.registry.getSingleMetric('order_api_idempotent_replays_total')?.get())?.values[0]?.value ?? 0;

  test('When 10 requests with one key arrive at once, then exactly one order and one event exist and all get the same answer', async () => {
    const replaysBefore = await replays();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        request(baseUrl).post('/orders').set('Idempotency-Key', 'concurrent-1').send(orderBody(3)),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(201));
    const orderIds = new Set(responses.map((r) => r.body.orderId as string));
    expect(orderIds.size).toBe(1);
    const [orderId] = [...orderIds] as [string];
    expect(responses.every((r) => JSON.stringify(r.body) === JSON.stringify(responses[0]?.body))).toBe(true);
    const metas = (await scanAll(tables.orders)).filter((item) => item.sk === 'META');
    expect(metas.filter((item) => responses.some((r) => r.body.orderId === item.orderId))).toHaveLength(1);
    expect(await eventsOf(orderId)).toHaveLength(1);
    const records = (await scanAll(tables.orders)).filter((item) => item.pk === 'IDEMPOTENCY#concurrent-1');
    expect(records).toHaveLength(1);
    expect((await replays()) - replaysBefore).toBe(9);
  });

  test('When 10 requests with one key all miss the record and race to write (look-ups held at a barrier), then one order commits and the 9 losers replay its answer', async () => {
    const racers = 10;
    let arrived = 0;
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => (release = resolve));
    // The real repository; only the first look-up of each request waits until all ten have looked.
    class BarrierRepository extends OrderRepository {
      override async findIdempotencyRecord(key: string) {
        const record = await super.findIdempotencyRecord(key);
        if (arrived < racers) {
          arrived += 1;
          if (arrived === racers) release();
          await barrier;
        }
        return record;
      }
    }
    const raced = buildTestApp({ tables, clock, makeRepository: (options) => new BarrierRepository(options) });
    const racedServer = createServer(raced.app);
    const url = `http://127.0.0.1:${await listen(racedServer, 0, '127.0.0.1')}`;
    try {
      const responses = await Promise.all(
        Array.from({ length: racers }, () =>
          request(url).post('/orders').set('Idempotency-Key', 'barrier-1').send(orderBody(2)),
        ),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(racers).fill(201));
      const orderIds = new Set(responses.map((r) => r.body.orderId as string));
      expect(orderIds.size).toBe(1);
      expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(racers - 1);
      expect(await ordersOf([...orderIds])).toHaveLength(1);
      expect(await eventsOf([...orderIds][0] as string)).toHaveLength(1);
      const conflicts = await raced.registry.getSingleMetric('order_api_transaction_conflicts_total')?.get();
      const lost = (conflicts?.values ?? [])
        .filter((v) => v.labels.operation === 'create')
        .reduce((sum, v) => sum + v.value, 0);
      expect(lost).toBeGreaterThanOrEqual(racers - 1);
    } finally {
      await closeServer(racedServer);
      raced.destroy();
    }
  });

  test('When a key is stored, then its record carries the request hash, the response and a TTL of the configured length', async () => {
    const created = await request(built.app)
      .post('/orders')
      .set('Idempotency-Key', 'ttl-1')
      .send(orderBody())
      .expect(201);
    const record = (await scanAll(tables.orders)).find((item) => item.pk === 'IDEMPOTENCY#ttl-1');
    expect(record).toMatchObject({ status: 201, headers: { location: `/orders/${created.body.orderId}` } });
    expect(String(record?.requestHash)).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(String(record?.body))).toEqual(created.body);
    expect(record?.expiresAt).toBe(Math.floor(clock.nowMs() / 1000) + ttlSeconds);
  });

  test('When a key has expired (even before TTL removed it), then the same request creates a new order', async () => {
    const first = await request(built.app)
      .post('/orders')
      .set('Idempotency-Key', 'expire-1')
      .send(orderBody())
      .expect(201);
    clock.advance(ttlSeconds * 1000 + 1000);
    const second = await request(built.app)
      .post('/orders')
      .set('Idempotency-Key', 'expire-1')
      .send(orderBody())
      .expect(201);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.body.orderId).not.toBe(first.body.orderId);
    expect(await ordersOf([first.body.orderId, second.body.orderId])).toHaveLength(2);
  });

  test('When a cancel is retried with its key, then the first answer is replayed and only one OrderCancelled event exists', async () => {
    const created = await request(built.app).post('/orders').send(orderBody()).expect(201);
    const first = await request(built.app)
      .post(`/orders/${created.body.orderId}/cancel`)
      .set('Idempotency-Key', 'cancel-1')
      .send({ reason: 'changed mind' })
      .expect(200);
    const retry = await request(built.app)
      .post(`/orders/${created.body.orderId}/cancel`)
      .set('Idempotency-Key', 'cancel-1')
      .send({ reason: 'changed mind' })
      .expect(200);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect((await eventsOf(created.body.orderId)).map((event) => event.seq)).toEqual([1, 2]);
  });

  test('When a cancel is retried with its key while the first is still writing, then the retry replays the 200 instead of answering 409', async () => {
    const created = await request(built.app).post('/orders').send(orderBody()).expect(201);
    const orderId = created.body.orderId as string;
    // The real repository; hooks only line the two requests up: the first holds its write until
    // the retry has looked the key up (and found nothing), and the retry reads the order only
    // after the first committed, so it sees CANCELLED.
    let firstWriting!: () => void;
    const firstIsWriting = new Promise<void>((resolve) => (firstWriting = resolve));
    let retryLookedUp!: () => void;
    const retryHasLookedUp = new Promise<void>((resolve) => (retryLookedUp = resolve));
    let firstCommitted!: () => void;
    const firstHasCommitted = new Promise<void>((resolve) => (firstCommitted = resolve));
    let lookups = 0;
    let reads = 0;
    let writes = 0;
    class LinedUpRepository extends OrderRepository {
      override async findIdempotencyRecord(key: string) {
        const record = await super.findIdempotencyRecord(key);
        lookups += 1;
        if (lookups === 2) retryLookedUp();
        return record;
      }
      override async findOrder(id: string) {
        reads += 1;
        if (reads === 2) await firstHasCommitted;
        return super.findOrder(id);
      }
      override async saveCancellation(...args: Parameters<OrderRepository['saveCancellation']>) {
        writes += 1;
        if (writes > 1) return super.saveCancellation(...args);
        firstWriting();
        await retryHasLookedUp;
        try {
          return await super.saveCancellation(...args);
        } finally {
          firstCommitted();
        }
      }
    }
    const raced = buildTestApp({ tables, clock, makeRepository: (options) => new LinedUpRepository(options) });
    const racedServer = createServer(raced.app);
    const url = `http://127.0.0.1:${await listen(racedServer, 0, '127.0.0.1')}`;
    const cancel = () =>
      request(url).post(`/orders/${orderId}/cancel`).set('Idempotency-Key', 'cancel-race-1').send({ reason: 'oops' });
    try {
      const first = cancel().then((response) => response);
      await firstIsWriting;
      const retry = cancel().then((response) => response);
      const [firstResponse, retryResponse] = await Promise.all([first, retry]);
      expect(firstResponse.status).toBe(200);
      expect(retryResponse.status).toBe(200);
      expect(retryResponse.headers['idempotent-replayed']).toBe('true');
      expect(retryResponse.body).toEqual(firstResponse.body);
      expect((await eventsOf(orderId)).map((event) => event.seq)).toEqual([1, 2]);
    } finally {
      await closeServer(racedServer);
      raced.destroy();
    }
  });

  test('When 8 cancels with one key arrive at once, then all answer 200 with one body and one OrderCancelled event exists', async () => {
    const created = await request(built.app).post('/orders').send(orderBody()).expect(201);
    const orderId = created.body.orderId as string;
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        request(baseUrl).post(`/orders/${orderId}/cancel`).set('Idempotency-Key', 'cancel-burst-1').send({}),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(responses.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect((await eventsOf(orderId)).map((event) => event.seq)).toEqual([1, 2]);
  });
});
