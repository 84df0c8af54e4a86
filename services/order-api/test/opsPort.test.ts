import { metricValue } from '@outbox/testkit';
import {
  createTestTables,
  type ServiceProcess,
  startServiceProcess,
  testEndpoints,
  type TestTables,
  waitFor,
} from '@outbox/testkit';
import { startDynamoDbProxy } from './support/dynamoDbProxy';
import { orderBody, tablesSnapshot } from './support/testApp';

/*
 * order-api as its own process (node dist/main.js), talking to DynamoDB Local through a counting
 * proxy that can freeze, so the DynamoDB calls of readiness and the client timeouts are observed
 * from outside, on real sockets.
 */
describe('order-api ops port, cached readiness and DynamoDB timeouts', () => {
  let tables: TestTables;
  let proxy: Awaited<ReturnType<typeof startDynamoDbProxy>>;
  let api: ServiceProcess;
  const apiUrl = () => `http://127.0.0.1:${api.port}`;
  const opsUrl = () => `http://127.0.0.1:${api.opsPort}`;

  beforeAll(async () => {
    tables = await createTestTables();
    proxy = await startDynamoDbProxy(testEndpoints().dynamodb);
    api = await startServiceProcess('order-api', {
      DYNAMODB_ENDPOINT: proxy.endpoint,
      ORDERS_TABLE: tables.orders,
      OUTBOX_TABLE: tables.outbox,
      // Longer than this file runs: every probe after the first is answered from the cache.
      READINESS_CACHE_MS: '60000',
    });
  });
  afterAll(async () => {
    await api?.kill();
    await proxy?.stop();
  });

  test('When the ops port is asked, then it serves /healthz, /readyz and /metrics, and the API port serves none of them', async () => {
    const placed = await fetch(`${apiUrl()}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(orderBody()),
    });
    expect(placed.status).toBe(201);

    expect((await fetch(`${opsUrl()}/healthz`)).status).toBe(200);
    expect((await fetch(`${opsUrl()}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${opsUrl()}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(metricValue(text, 'order_api_orders_created_total', { service: 'order-api' })).toBe(1);
    expect(text).toMatch(
      /order_api_http_request_duration_seconds_count\{service="order-api",route="\/orders",method="POST",status="201"\} 1$/m,
    );

    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const response = await fetch(`${apiUrl()}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect(((await response.json()) as { code: string }).code).toBe('route.not_found');
    }
    expect((await fetch(`${apiUrl()}/openapi.json`)).status).toBe(200);
  });

  test('When /readyz is probed 60 times, at once and one after another, then DynamoDB sees at most one readiness call', async () => {
    const before = proxy.count('BatchGetItem');
    const burst = await Promise.all(Array.from({ length: 30 }, () => fetch(`${opsUrl()}/readyz`)));
    expect(burst.map((r) => r.status)).toEqual(Array(30).fill(200));
    for (let i = 0; i < 30; i++) expect((await fetch(`${opsUrl()}/readyz`)).status).toBe(200);
    // The start-up probe already ran the one check of this interval.
    expect(before).toBeGreaterThanOrEqual(1);
    expect(proxy.count('BatchGetItem') - before).toBe(0);
    expect(proxy.count('DescribeTable')).toBe(0);
  });

  test('When DynamoDB accepts requests and never answers, then a request answers 503 within the configured request timeout and nothing is written', async () => {
    // A process of its own, with its own proxy to freeze and a short request timeout.
    const frozen = await startDynamoDbProxy(testEndpoints().dynamodb);
    let hung: ServiceProcess | undefined;
    try {
      hung = await startServiceProcess('order-api', {
        DYNAMODB_ENDPOINT: frozen.endpoint,
        ORDERS_TABLE: tables.orders,
        OUTBOX_TABLE: tables.outbox,
        READINESS_CACHE_MS: '100',
        DYNAMODB_MAX_ATTEMPTS: '1',
        DYNAMODB_REQUEST_TIMEOUT_MS: '1000',
      });
      const before = await tablesSnapshot(tables);
      frozen.freeze();
      const started = Date.now();
      const response = await fetch(`http://127.0.0.1:${hung.port}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(orderBody()),
      });
      const elapsedMs = Date.now() - started;
      expect(response.status).toBe(503);
      expect(((await response.json()) as { code: string }).code).toBe('store.unavailable');
      // 1 s configured; with the shared default (5 s) it would take at least 5 s.
      expect(elapsedMs).toBeGreaterThanOrEqual(1000);
      expect(elapsedMs).toBeLessThan(4500);
      expect(await tablesSnapshot(tables)).toEqual(before);
      // Readiness notices too, once the cached outcome has aged out.
      await waitFor(async () => (await fetch(`http://127.0.0.1:${hung!.opsPort}/readyz`)).status === 503, {
        what: '/readyz to answer 503',
        timeoutMs: 10000,
      });
    } finally {
      await hung?.kill();
      await frozen.stop();
    }
  });
});
