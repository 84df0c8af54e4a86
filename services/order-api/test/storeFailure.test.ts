import request from 'supertest';
import { freePort, type TestTables } from '@outbox/testkit';
import { buildTestApp, createTestTables, orderBody, tablesSnapshot } from './support/testApp';

describe('order-api when DynamoDB fails', () => {
  let tables: TestTables;
  beforeAll(async () => {
    tables = await createTestTables();
  });

  test('When DynamoDB does not answer (nothing listens on its port), then every route answers 503 problem+json with Retry-After and nothing is written', async () => {
    const port = await freePort();
    const built = buildTestApp({ tables, endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1, retryAfterSeconds: 2 });
    try {
      const before = await tablesSnapshot(tables);
      const responses = [
        await request(built.app).post('/orders').send(orderBody()),
        await request(built.app).post('/orders').set('Idempotency-Key', 'down-1').send(orderBody()),
        await request(built.app).get('/orders/00000000-0000-4000-8000-000000000000'),
        await request(built.app).get('/orders').query({ customerId: orderBody().customerId }),
        await request(built.app).post('/orders/00000000-0000-4000-8000-000000000000/cancel').send({}),
      ];
      for (const response of responses) {
        expect(response.status).toBe(503);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(response.headers['retry-after']).toBe('2');
        expect(response.body).toMatchObject({
          type: 'https://outbox.example.com/problems/store-unavailable',
          status: 503,
        });
        // Internals (host, port, SDK error text) stay out of the answer.
        expect(JSON.stringify(response.body)).not.toContain(String(port));
      }
      expect(await tablesSnapshot(tables)).toEqual(before);
    } finally {
      built.destroy();
    }
  });

  test('When the transaction fails part-way (the outbox table is missing), then it answers 503 and the order items were not written either', async () => {
    const built = buildTestApp({ tables, outboxTable: `${tables.outbox}-missing`, maxAttempts: 1 });
    try {
      const before = await tablesSnapshot(tables);
      const response = await request(built.app)
        .post('/orders')
        .set('Idempotency-Key', 'half-1')
        .send(orderBody(3))
        .expect(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(await tablesSnapshot(tables)).toEqual(before);
    } finally {
      built.destroy();
    }
  });
});
