import request from 'supertest';
import {
  createTestTables,
  scanAll,
  type ServiceProcess,
  startServiceProcess,
  testEndpoints,
  type TestTables,
} from '@outbox/testkit';
import { orderBody, tablesSnapshot } from './support/testApp';
import { startJwtIssuer } from './support/jwtIssuer';

/*
 * Two customers' callers and an admin, with real tokens verified by order-api running as its own
 * process against a real JWKS server on loopback. The customer id comes from a configured claim
 * (not `sub`, which stays the caller's own id), so this also proves the claim is read from config.
 */
const issuer = 'https://issuer.test/';
const audience = 'order-api';
const customerClaim = 'https://outbox.example.com/customer_id';
const adminScope = 'orders:admin';
const customerA = '0a0a0a0a-0000-4000-8000-00000000000a';
const customerB = '0b0b0b0b-0000-4000-8000-00000000000b';

describe('authorization with AUTH_MODE=jwt: callers act only on their own customer, admins on any', () => {
  let jwt: Awaited<ReturnType<typeof startJwtIssuer>>;
  let tables: TestTables;
  let api: ServiceProcess;
  let url: string;
  const now = () => Math.floor(Date.now() / 1000);
  const token = (claims: Record<string, unknown>) =>
    jwt.sign({ iss: issuer, aud: audience, iat: now(), exp: now() + 300, ...claims });
  const callers = () => ({
    a: token({ sub: 'user-a', [customerClaim]: customerA, scope: 'orders' }),
    b: token({ sub: 'user-b', [customerClaim]: customerB }),
    admin: token({ sub: 'ops-1', scope: `orders ${adminScope}` }),
    otherAdmin: token({ sub: 'ops-2', scp: [adminScope] }),
  });
  const as = (bearer: string) => ({ Authorization: `Bearer ${bearer}` });
  const place = (bearer: string, customer: string, key?: string) => {
    const call = request(url).post('/orders').set(as(bearer));
    return (key ? call.set('Idempotency-Key', key) : call).send(orderBody(1, customer));
  };
  const cancel = (bearer: string, orderId: string, key?: string) => {
    const call = request(url).post(`/orders/${orderId}/cancel`).set(as(bearer));
    return (key ? call.set('Idempotency-Key', key) : call).send({ reason: 'no longer needed' });
  };
  const eventsOf = async (orderId: string) =>
    (await scanAll(tables.outbox)).filter((item) => item.aggregateId === orderId).map((item) => item.eventType);

  beforeAll(async () => {
    jwt = await startJwtIssuer();
    tables = await createTestTables();
    api = await startServiceProcess('order-api', {
      DYNAMODB_ENDPOINT: testEndpoints().dynamodb,
      ORDERS_TABLE: tables.orders,
      OUTBOX_TABLE: tables.outbox,
      AUTH_MODE: 'jwt',
      AUTH_JWT_ISSUER: issuer,
      AUTH_JWT_AUDIENCE: audience,
      AUTH_JWKS_URL: jwt.jwksUrl,
      AUTH_CUSTOMER_ID_CLAIM: customerClaim,
      AUTH_ADMIN_SCOPE: adminScope,
    });
    url = `http://127.0.0.1:${api.port}`;
  });
  afterAll(async () => {
    await api?.kill();
    await jwt?.stop();
  });

  test('When a caller places an order for another customer, then it answers 403 and nothing is written, with or without a key; for its own customer it answers 201', async () => {
    const { a, b } = callers();
    const before = await tablesSnapshot(tables);
    for (const response of [
      await place(a, customerB),
      await place(a, customerB, 'create-b-1'),
      await place(b, customerA),
    ]) {
      expect(response.status).toBe(403);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({ code: 'auth.forbidden', title: 'Forbidden', status: 403 });
    }
    expect(await tablesSnapshot(tables)).toEqual(before);

    const own = await place(a, customerA).expect(201);
    expect(own.body.customerId).toBe(customerA);
  });

  test("When a caller reads or cancels another customer's order, then it answers 404 as for a missing order and nothing is written; the owner can", async () => {
    const { a, b } = callers();
    const orderId = (await place(a, customerA).expect(201)).body.orderId as string;
    const missing = await request(url).get('/orders/00000000-0000-4000-8000-000000000000').set(as(b)).expect(404);

    const before = await tablesSnapshot(tables);
    const read = await request(url).get(`/orders/${orderId}`).set(as(b)).expect(404);
    const cancelled = await cancel(b, orderId).expect(404);
    const cancelledWithKey = await cancel(b, orderId, 'cancel-other-1').expect(404);
    for (const response of [read, cancelled, cancelledWithKey]) {
      // Indistinguishable from an order that does not exist, apart from the id it names.
      expect({ ...response.body, orderId: undefined, instance: undefined, requestId: undefined }).toEqual({
        ...missing.body,
        orderId: undefined,
        instance: undefined,
        requestId: undefined,
        detail: `Order ${orderId} does not exist`,
      });
    }
    expect(await tablesSnapshot(tables)).toEqual(before);

    await request(url).get(`/orders/${orderId}`).set(as(a)).expect(200);
    await cancel(a, orderId).expect(200);
    expect(await eventsOf(orderId)).toEqual(['OrderCreated', 'OrderCancelled']);
  });

  test("When a caller lists another customer's orders, then it answers 403 and reads nothing of theirs; its own listing holds only its orders", async () => {
    const { a, b } = callers();
    const ofA = (await place(a, customerA).expect(201)).body.orderId as string;
    const ofB = (await place(b, customerB).expect(201)).body.orderId as string;

    const refused = await request(url).get('/orders').query({ customerId: customerA }).set(as(b)).expect(403);
    expect(refused.body.code).toBe('auth.forbidden');
    expect(JSON.stringify(refused.body)).not.toContain(ofA);

    const own = await request(url).get('/orders').query({ customerId: customerB }).set(as(b)).expect(200);
    const ids = (own.body.orders as { orderId: string; customerId: string }[]).map((order) => order.orderId);
    expect(ids).toContain(ofB);
    expect(ids).not.toContain(ofA);
    expect(new Set((own.body.orders as { customerId: string }[]).map((order) => order.customerId))).toEqual(
      new Set([customerB]),
    );
  });

  test("When a caller holds the admin scope (in `scope` or `scp`), then it may place, read, list and cancel any customer's orders", async () => {
    const { a, admin, otherAdmin } = callers();
    const placed = await place(admin, customerA).expect(201);
    expect(placed.body.customerId).toBe(customerA);
    const ofA = (await place(a, customerA).expect(201)).body.orderId as string;

    await request(url).get(`/orders/${ofA}`).set(as(admin)).expect(200);
    const listed = await request(url).get('/orders').query({ customerId: customerA }).set(as(otherAdmin)).expect(200);
    expect((listed.body.orders as { orderId: string }[]).map((order) => order.orderId)).toEqual(
      expect.arrayContaining([ofA, placed.body.orderId]),
    );
    await cancel(otherAdmin, ofA).expect(200);
    expect(await eventsOf(ofA)).toEqual(['OrderCreated', 'OrderCancelled']);
    // The customer sees the order an admin placed for it.
    await request(url).get(`/orders/${placed.body.orderId}`).set(as(a)).expect(200);
  });

  test('When two callers use the same Idempotency-Key, then each gets its own answer: no replay, no 422, no block', async () => {
    const { a, b, admin, otherAdmin } = callers();
    const firstA = await place(a, customerA, 'shared-key-1').expect(201);
    // Another caller, another request, same key: its own new order, not "key reused".
    const firstB = await place(b, customerB, 'shared-key-1').expect(201);
    expect(firstB.headers['idempotent-replayed']).toBeUndefined();
    expect(firstB.body.orderId).not.toBe(firstA.body.orderId);
    // Each caller's retry replays its own answer.
    const retryA = await place(a, customerA, 'shared-key-1').expect(201);
    expect(retryA.headers['idempotent-replayed']).toBe('true');
    expect(retryA.body.orderId).toBe(firstA.body.orderId);
    const retryB = await place(b, customerB, 'shared-key-1').expect(201);
    expect(retryB.body.orderId).toBe(firstB.body.orderId);

    // Two admins, the very same request and key: two orders, one each.
    const byAdmin = await place(admin, customerA, 'shared-key-2').expect(201);
    const byOtherAdmin = await place(otherAdmin, customerA, 'shared-key-2').expect(201);
    expect(byOtherAdmin.headers['idempotent-replayed']).toBeUndefined();
    expect(byOtherAdmin.body.orderId).not.toBe(byAdmin.body.orderId);

    // A's cancel under a key is never replayed to B, who is refused as for a missing order.
    const orderId = firstA.body.orderId as string;
    await cancel(a, orderId, 'shared-key-3').expect(200);
    const before = await tablesSnapshot(tables);
    const byB = await cancel(b, orderId, 'shared-key-3').expect(404);
    expect(byB.headers['idempotent-replayed']).toBeUndefined();
    expect(await tablesSnapshot(tables)).toEqual(before);

    const records = (await scanAll(tables.orders)).filter((item) => item.pk === 'IDEMPOTENCY#shared-key-1');
    expect(records).toHaveLength(2);
    // Scoped by a digest of the subject: no caller id is stored in the key.
    for (const record of records) expect(String(record.sk)).toMatch(/^IDEMPOTENCY#[0-9a-f]{64}$/);
  });

  test('When a token names no customer and holds no admin scope, then it answers 401 and nothing is written', async () => {
    const before = await tablesSnapshot(tables);
    const response = await place(token({ sub: 'user-c' }), customerA).expect(401);
    expect(response.body.code).toBe('auth.invalid_token');
    expect(response.body.detail).toContain(customerClaim);
    expect(await tablesSnapshot(tables)).toEqual(before);
  });
});
