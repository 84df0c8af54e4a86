import { Writable } from 'node:stream';
import { createDynamoDbClients, createLogger, createMetricsRegistry } from '@outbox/shared';
import { createApp, type CreateAppOptions } from '../../src/http/createApp';
import { createApiMetrics } from '../../src/http/apiMetrics';
import { OrderRepository, type OrderRepositoryOptions } from '../../src/data/OrderRepository';
import { createTestTables, scanAll, testEndpoints, type TestTables } from '@outbox/testkit';

/** A customer id tests use when the customer does not matter. */
export const customerId = '5f0c3c3e-8f7a-4c1e-9a53-2f1d3b7f9a10';

/** A clock a test moves by hand. */
export class TestClock {
  // Starts at the real time, whole seconds: DynamoDB Local may delete items whose TTL lies in
  // the real past (outbox items expire a week after the test clock's "now").
  constructor(private ms = Math.floor(Date.now() / 1000) * 1000) {}
  now = (): Date => new Date(this.ms);
  nowMs = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Options for {@link buildTestApp}. */
export interface TestAppOptions extends Partial<Omit<CreateAppOptions, 'repository' | 'metrics' | 'logger'>> {
  tables: TestTables;
  /** DynamoDB endpoint; the local stack's by default. */
  endpoint?: string;
  maxAttempts?: number;
  /** Overrides the outbox table name the repository writes to. */
  outboxTable?: string;
  clock?: TestClock;
  /** Builds the repository (a test may subclass the real one to line requests up). */
  makeRepository?: (options: OrderRepositoryOptions) => OrderRepository;
}

/** An order-api app over real DynamoDB Local tables, with its metrics and captured log lines. */
export function buildTestApp(options: TestAppOptions) {
  const { region, dynamodb } = testEndpoints();
  const { client, doc } = createDynamoDbClients({
    region,
    endpoint: options.endpoint ?? dynamodb,
    maxAttempts: options.maxAttempts,
  });
  const registry = createMetricsRegistry({ service: 'order-api-test', defaultMetrics: false });
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((line) => line.length > 0),
      );
      callback();
    },
  });
  const repositoryOptions: OrderRepositoryOptions = {
    doc,
    ordersTable: options.tables.orders,
    outboxTable: options.outboxTable ?? options.tables.outbox,
    outboxRetentionDays: 7,
    nowMs: options.clock?.nowMs,
  };
  const repository = options.makeRepository?.(repositoryOptions) ?? new OrderRepository(repositoryOptions);
  const app = createApp({
    currency: 'EUR',
    maxBodyBytes: 65536,
    now: options.clock?.now,
    ...options,
    repository,
    metrics: createApiMetrics(registry),
    logger: createLogger({ service: 'order-api-test', level: 'info', destination }),
  });
  return { app, registry, logLines, repository, destroy: () => client.destroy() };
}

/** Every item of both tables, sorted, to prove a rejected request changed nothing. */
export async function tablesSnapshot(tables: TestTables) {
  const sorted = (items: Record<string, unknown>[], key: (item: Record<string, unknown>) => string) =>
    items
      .map((item) => [key(item), item] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, item]) => item);
  return {
    orders: sorted(await scanAll(tables.orders), (item) => `${String(item.pk)}|${String(item.sk)}`),
    outbox: sorted(
      await scanAll(tables.outbox),
      (item) => `${String(item.aggregateId)}|${String(item.seq).padStart(6, '0')}`,
    ),
  };
}

/** A valid order body with `count` lines of 1 × 1.10. */
export function orderBody(count = 1, customer = customerId) {
  return {
    customerId: customer,
    items: Array.from({ length: count }, (_, i) => ({ productId: `sku-${i + 1}`, quantity: 1, price: 1.1 })),
  };
}

export { createTestTables, scanAll };
