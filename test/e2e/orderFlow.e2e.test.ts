import { EVENT_HEADERS } from '@outbox/shared';
import {
  createTestTables,
  createTestTopic,
  pipelineEnv,
  readTopic,
  scanAll,
  type ServiceProcess,
  startServiceProcess,
  waitFor,
  postOrder,
} from '@outbox/testkit';

describe('one order through every part, each service its own process', () => {
  const processes: ServiceProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
  });

  test('When an order is posted, then the order, its outbox event, the Kafka record and the notification all appear, and the services stop cleanly', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const env = pipelineEnv(tables, topic);
    const [api, relay, notifier] = await Promise.all([
      startServiceProcess('order-api', env),
      startServiceProcess('outbox-relay', env),
      startServiceProcess('notifier', env),
    ]);
    processes.push(api, relay, notifier);
    const reader = await readTopic(topic);

    const placed = await postOrder(api.port, { items: [{ productId: 'sku-1', quantity: 2, price: 12.5 }] });
    expect(placed.status).toBe(201);
    const order = (await placed.json()) as { orderId: string; totalMinor: number };
    expect(placed.headers.get('location')).toBe(`/orders/${order.orderId}`);

    const orderItems = (await scanAll(tables.orders)).filter((item) => item.pk === `ORDER#${order.orderId}`);
    expect(orderItems.map((item) => item.sk).sort()).toEqual(['ITEM#001', 'META']);
    const outbox = (await scanAll(tables.outbox)).filter((item) => item.aggregateId === order.orderId);
    expect(outbox).toHaveLength(1);
    const { expiresAt: _ttl, gsi1pk: _hour, gsi1sk: _order, ...envelope } = outbox[0];

    const [record] = await reader.waitForCount(1);
    expect(record.key).toBe(order.orderId);
    expect(JSON.parse(record.value ?? 'null')).toEqual(envelope);
    expect(record.headers[EVENT_HEADERS.eventId]).toBe(envelope.eventId);
    expect(record.headers[EVENT_HEADERS.eventType]).toBe('OrderCreated');
    expect(record.headers[EVENT_HEADERS.seq]).toBe('1');
    expect(record.headers[EVENT_HEADERS.sourceShard]).toMatch(/^shardId-/);

    const notification = await waitFor(
      async () => (await scanAll(tables.notifications)).find((item) => item.orderId === order.orderId),
      { timeoutMs: 30000, what: 'the notification' },
    );
    expect(notification).toMatchObject({ kind: 'order_confirmation', eventId: envelope.eventId, seq: 1 });
    expect(String(notification.body)).toContain('25.00');

    const fetched = await fetch(`http://127.0.0.1:${api.port}/orders/${order.orderId}`);
    expect(fetched.status).toBe(200);
    expect(await fetched.json()).toMatchObject({
      orderId: order.orderId,
      totalMinor: 2500,
      items: [{ productId: 'sku-1', quantity: 2 }],
    });

    await reader.stop();
    expect(await Promise.all([api.stop(), relay.stop(), notifier.stop()])).toEqual([0, 0, 0]);
  });
});
