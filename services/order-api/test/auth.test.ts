import { generateKeyPairSync } from 'node:crypto';
import request from 'supertest';
import {
  createTestTables,
  scanAll,
  type ServiceProcess,
  startServiceProcess,
  testEndpoints,
  type TestTables,
} from '@outbox/testkit';
import { customerId, orderBody, tablesSnapshot } from './support/testApp';
import { signJwt, startJwtIssuer } from './support/jwtIssuer';

/*
 * The service runs as its own process (node dist/main.js), as deployed: jose is ESM-only and
 * loads natively there, while Jest's CommonJS runtime cannot load it. The tokens are signed here
 * with node:crypto, independently of the verifier under test.
 */
const issuer = 'https://issuer.test/';
const audience = 'order-api';
const maxTokenAgeSeconds = 600;

describe('bearer-JWT authentication (AUTH_MODE=jwt), order-api as its own process', () => {
  const strangerKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let jwt: Awaited<ReturnType<typeof startJwtIssuer>>;
  let tables: TestTables;
  let api: ServiceProcess;
  let url: string;
  const now = () => Math.floor(Date.now() / 1000);
  // The customer id claim is `sub` by default.
  const validClaims = () => ({ iss: issuer, aud: audience, sub: customerId, iat: now(), exp: now() + 300 });

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
      AUTH_JWT_MAX_AGE_SECONDS: String(maxTokenAgeSeconds),
    });
    url = `http://127.0.0.1:${api.port}`;
  });
  afterAll(async () => {
    await api?.kill();
    await jwt?.stop();
  });

  // First in the file on purpose: the verifier has not fetched the key set yet, so it must fetch now.
  test('When the key set cannot be fetched, then it answers 503 with Retry-After and writes nothing, and accepts the token once the key set is back', async () => {
    const token = signJwt(validClaims(), jwt.keys.privateKey);
    jwt.setHealthy(false);
    const before = await tablesSnapshot(tables);
    try {
      const response = await request(url).post('/orders').set('Authorization', `Bearer ${token}`).send(orderBody());
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.body.type).toMatch(/auth-unavailable$/);
      expect(await tablesSnapshot(tables)).toEqual(before);
    } finally {
      jwt.setHealthy(true);
    }
    await request(url).post('/orders').set('Authorization', `Bearer ${token}`).send(orderBody()).expect(201);
  });

  test('When a request has no token or a token that does not verify, then it answers 401 problem+json and nothing is written', async () => {
    const before = await tablesSnapshot(tables);
    const tokens: (string | undefined)[] = [
      undefined,
      'not-a-jwt',
      signJwt(validClaims(), strangerKeys.privateKey),
      signJwt({ ...validClaims(), aud: 'someone-else' }, jwt.keys.privateKey),
      signJwt({ ...validClaims(), iss: 'https://evil.test/' }, jwt.keys.privateKey),
      signJwt({ ...validClaims(), exp: now() - 3600 }, jwt.keys.privateKey),
      signJwt(validClaims(), jwt.keys.privateKey, { alg: 'none', kid: 'k1' }),
    ];
    for (const token of tokens) {
      const call = request(url).post('/orders').set('Idempotency-Key', 'auth-1').send(orderBody());
      const response = await (token ? call.set('Authorization', `Bearer ${token}`) : call);
      expect({ token, status: response.status }).toEqual({ token, status: 401 });
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(response.body.type).toMatch(/auth-(missing|invalid)-token$/);
    }
    await request(url).get('/orders').query({ customerId: orderBody().customerId }).expect(401);
    await request(url).post('/orders/00000000-0000-4000-8000-000000000000/cancel').send({}).expect(401);
    expect(await tablesSnapshot(tables)).toEqual(before);
  });

  test('When a token lacks exp or sub, or (with a maximum age set) lacks iat or is older than the maximum, then it answers 401 naming the claim and nothing is written', async () => {
    const without = (claim: string) => {
      const { [claim]: _dropped, ...rest } = validClaims() as Record<string, unknown>;
      return rest;
    };
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['no exp', without('exp'), /"exp"/],
      ['no sub', without('sub'), /"sub"/],
      ['sub not a string', { ...validClaims(), sub: 42 }, /sub/],
      ['no iat', without('iat'), /"iat"/],
      ['too old', { ...validClaims(), iat: now() - maxTokenAgeSeconds - 120 }, /"iat"/],
    ];
    const before = await tablesSnapshot(tables);
    for (const [name, claims, claim] of cases) {
      const response = await request(url)
        .post('/orders')
        .set('Authorization', `Bearer ${signJwt(claims, jwt.keys.privateKey)}`)
        .send(orderBody());
      expect({ name, status: response.status }).toEqual({ name, status: 401 });
      expect(response.body.code).toBe('auth.invalid_token');
      expect({ name, detail: response.body.detail }).toEqual({ name, detail: expect.stringMatching(claim) });
    }
    expect(await tablesSnapshot(tables)).toEqual(before);
    // Within the maximum age the same token shape is accepted.
    const fresh = signJwt({ ...validClaims(), iat: now() - maxTokenAgeSeconds + 60 }, jwt.keys.privateKey);
    await request(url).get('/orders').query({ customerId }).set('Authorization', `Bearer ${fresh}`).expect(200);
  });

  test('When the token is valid, then the order is placed and read; health and the OpenAPI document need no token', async () => {
    const token = signJwt(validClaims(), jwt.keys.privateKey);
    const created = await request(url)
      .post('/orders')
      .set('Authorization', `Bearer ${token}`)
      .send(orderBody())
      .expect(201);
    await request(url).get(`/orders/${created.body.orderId}`).set('Authorization', `Bearer ${token}`).expect(200);
    expect((await scanAll(tables.outbox)).filter((item) => item.aggregateId === created.body.orderId)).toHaveLength(1);
    await request(`http://127.0.0.1:${api.opsPort}`).get('/healthz').expect(200);
    const doc = await request(url).get('/openapi.json').expect(200);
    expect(doc.body.security).toEqual([{ bearerAuth: [] }]);
  });
});
