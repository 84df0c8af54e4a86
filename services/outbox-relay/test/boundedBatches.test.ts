import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClients, deadLetterTopicFor, type OrderEventEnvelope } from '@outbox/shared';
import type { Order } from '../../order-api/src/domain/Order';
import { createTestTables, createTestTopic, readTopic, testEndpoints } from '@outbox/testkit';
import { placeOrder } from '../../order-api/src/domain/placeOrder';
import { MAX_ITEMS_PER_ORDER } from '../../order-api/src/domain/placeOrderInput';
import { cancelOrder } from '../../order-api/src/domain/cancelOrder';
import { start, type RelayHandle } from '../src/start';
import { checkPerAggregateOrder, relayTestConfig, scrape, writeOutboxEvent } from './support';

describe('bounded Kafka requests', () => {
  const { dynamodb, region } = testEndpoints();
  // Generous timeouts: the backlog's 360 large items are a heavy write for a shared DynamoDB Local.
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb, requestTimeoutMs: 30_000 });
  let relay: RelayHandle | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });
  afterAll(() => client.destroy());

  test(`When a backlog of 300 orders of ${MAX_ITEMS_PER_ORDER} items (built by the API's placeOrder, 60 of them then cancelled by its cancelOrder) waits for the relay, then it drains completely in per-aggregate order with nothing dead-lettered`, async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    // The outbox item exactly as OrderRepository writes it; the Orders items are not the relay's business.
    const orders = new Map<string, Order>();
    const writeOutbox = async (event: OrderEventEnvelope<object>) => {
      const expiresAt = Math.floor(Date.parse(event.occurredAt) / 1000) + 86400;
      await doc.send(new PutCommand({ TableName: tables.outbox, Item: { ...event, expiresAt } }));
    };
    const body = () => ({
      customerId: randomUUID(),
      // The largest order the API takes, every field at its longest.
      items: Array.from({ length: MAX_ITEMS_PER_ORDER }, (_, i) => ({
        productId: `${String(i).padStart(4, '0')}-${'p'.repeat(59)}`,
        quantity: 1000,
        price: 99999.99,
      })),
    });
    const placed: Order[] = [];
    for (let i = 0; i < 300; i += 10) {
      placed.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, () =>
            placeOrder(body(), {
              currency: 'EUR',
              saveNewOrder: async (order, event) => {
                orders.set(order.orderId, order);
                await writeOutbox(event);
              },
            }),
          ),
        )),
      );
    }
    const cancelled = placed.slice(0, 60).map((order) => order.orderId);
    await Promise.all(
      cancelled.map((orderId) =>
        cancelOrder(
          orderId,
          { reason: 'changed my mind' },
          {
            findOrder: async (id) => orders.get(id),
            saveCancellation: (_previous, _next, event) => writeOutbox(event),
          },
        ),
      ),
    );
    const expected = new Map(placed.map((order) => [order.orderId, cancelled.includes(order.orderId) ? 2 : 1]));

    const reader = await readTopic(topic);
    try {
      relay = await start(relayTestConfig({ tables, topic }));
      const records = await reader.waitForCount(360, 60_000);
      const { problems } = checkPerAggregateOrder(records, expected);
      expect(problems).toEqual([]);
      expect(await scrape(relay.port, 'relay_records_dead_lettered_total')).toBeUndefined();
      expect(await scrape(relay.port, 'relay_publish_failures_total')).toBe(0);
    } finally {
      await reader.stop();
    }
  }, 120_000);

  test('When one event alone is larger than the request budget, then it goes to the dead-letter topic with reason too_large and the events after it are published', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const events = await readTopic(topic);
    const letters = await readTopic(deadLetterTopicFor(topic));
    try {
      relay = await start(relayTestConfig({ tables, topic }, { KAFKA_MAX_REQUEST_BYTES: '16384' }));
      const before = await writeOutboxEvent(doc, tables.outbox);
      const huge = await writeOutboxEvent(doc, tables.outbox, { payload: { orderId: 'x', note: 'n'.repeat(40_000) } });
      const after = await writeOutboxEvent(doc, tables.outbox);

      const published = await events.waitForCount(2);
      expect(published.map((r) => r.key).sort()).toEqual([before.aggregateId, after.aggregateId].sort());
      const [letter] = await letters.waitForCount(1);
      expect(letter?.key).toBe(huge.aggregateId);
      expect(letter?.headers['error-code']).toBe('too_large');
      const value = JSON.parse(letter?.value ?? '{}') as Record<string, unknown>;
      expect(value).toMatchObject({
        eventId: huge.eventId,
        aggregateId: huge.aggregateId,
        seq: 1,
        payloadOmitted: true,
      });
      expect(await scrape(relay.port, 'relay_records_dead_lettered_total', { reason: 'too_large' })).toBe(1);
    } finally {
      await events.stop();
      await letters.stop();
    }
  });
});
