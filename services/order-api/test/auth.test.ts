import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import request from 'supertest';
import { closeServer, listen } from '@outbox/shared';
import { startServiceProcess, type ServiceProcess } from '../../../test/support/serviceProcess';
import { createTestTables, scanAll, testEndpoints, type TestTables } from '../../../test/support/testStack';
import { orderBody, tablesSnapshot } from './support/testApp';

/*
 * The service runs as its own process (node dist/main.js), as deployed: jose is ESM-only and
 * loads natively there, while Jest's CommonJS runtime cannot load it. The tokens are signed here
 * with node:crypto, independently of the verifier under test.
 */
const issuer = 'https://issuer.test/';
const audience = 'order-api';

function signJwt(
  claims: Record<string, unknown>,
  key: KeyObject,
  header: Record<string, unknown> = { alg: 'RS256', kid: 'k1' },
): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode({ typ: 'JWT', ...header })}.${encode(claims)}`;
  const signature = header.alg === 'none' ? '' : sign('sha256', Buffer.from(signingInput), key).toString('base64url');
  return `${signingInput}.${signature}`;
}

describe('bearer-JWT authentication (AUTH_MODE=jwt), order-api as its own process', () => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const strangerKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let jwksHealthy = true;
  let jwksServer: Server;
  let tables: TestTables;
  let api: ServiceProcess;
  let url: string;
  const now = () => Math.floor(Date.now() / 1000);
  const validClaims = () => ({ iss: issuer, aud: audience, sub: 'user-1', iat: now(), exp: now() + 300 });

  beforeAll(async () => {
    jwksServer = createServer((_req, res) => {
      if (!jwksHealthy) {
        res.writeHead(500).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          keys: [{ ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }],
        }),
      );
    });
    const jwksPort = await listen(jwksServer, 0, '127.0.0.1');
    tables = await createTestTables();
    api = await startServiceProcess('order-api', {
      DYNAMODB_ENDPOINT: testEndpoints().dynamodb,
      ORDERS_TABLE: tables.orders,
      OUTBOX_TABLE: tables.outbox,
      AUTH_MODE: 'jwt',
      AUTH_JWT_ISSUER: issuer,
      AUTH_JWT_AUDIENCE: audience,
      AUTH_JWKS_URL: `http://127.0.0.1:${jwksPort}/.well-known/jwks.json`,
    });
    url = `http://127.0.0.1:${api.port}`;
  });
  afterAll(async () => {
    await api?.kill();
    await closeServer(jwksServer);
  });

  // First in the file on purpose: the verifier has not fetched the key set yet, so it must fetch now.
  test('When the key set cannot be fetched, then it answers 503 with Retry-After and writes nothing, and accepts the token once the key set is back', async () => {
    const token = signJwt(validClaims(), keys.privateKey);
    jwksHealthy = false;
    const before = await tablesSnapshot(tables);
    try {
      const response = await request(url).post('/orders').set('Authorization', `Bearer ${token}`).send(orderBody());
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.body.type).toMatch(/auth-unavailable$/);
      expect(await tablesSnapshot(tables)).toEqual(before);
    } finally {
      jwksHealthy = true;
    }
    await request(url).post('/orders').set('Authorization', `Bearer ${token}`).send(orderBody()).expect(201);
  });

  test('When a request has no token or a token that does not verify, then it answers 401 problem+json and nothing is written', async () => {
    const before = await tablesSnapshot(tables);
    const tokens: (string | undefined)[] = [
      undefined,
      'not-a-jwt',
      signJwt(validClaims(), strangerKeys.privateKey),
      signJwt({ ...validClaims(), aud: 'someone-else' }, keys.privateKey),
      signJwt({ ...validClaims(), iss: 'https://evil.test/' }, keys.privateKey),
      signJwt({ ...validClaims(), exp: now() - 3600 }, keys.privateKey),
      signJwt(validClaims(), keys.privateKey, { alg: 'none', kid: 'k1' }),
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

  test('When the token is valid, then the order is placed and read; health and the OpenAPI document need no token', async () => {
    const token = signJwt(validClaims(), keys.privateKey);
    const created = await request(url)
      .post('/orders')
      .set('Authorization', `Bearer ${token}`)
      .send(orderBody())
      .expect(201);
    await request(url).get(`/orders/${created.body.orderId}`).set('Authorization', `Bearer ${token}`).expect(200);
    expect((await scanAll(tables.outbox)).filter((item) => item.aggregateId === created.body.orderId)).toHaveLength(1);
    await request(url).get('/healthz').expect(200);
    const doc = await request(url).get('/openapi.json').expect(200);
    expect(doc.body.security).toEqual([{ bearerAuth: [] }]);
  });
});
