import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { OUTBOX_TIME_INDEX_ATTRIBUTES, parseEnvelope } from '@outbox/shared';
import { validateOrderEvent } from '../../services/notifier/src/notify/validateOrderEvent';
import { createTestTables, createTestTopic, pipelineEnv, scanAll, postOrder } from '@outbox/testkit';
import { readTopic } from '@outbox/testkit';
import { startServiceProcess, type ServiceProcess } from '@outbox/testkit';

/** A reader that knows only the committed JSON Schema file of an event type, not our zod schemas. */
function jsonSchemaReader(file: string): z.ZodType {
  const path = join(__dirname, '../../packages/shared/src/events', file);
  return z.fromJSONSchema(JSON.parse(readFileSync(path, 'utf8')));
}

describe('the event contract between the producers and the notifier', () => {
  const processes: ServiceProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
  });

  test("When order-api writes OrderCreated and OrderCancelled and the relay publishes them, then the notifier's parser accepts both the outbox items and the Kafka values, and so do the JSON Schema files", async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const env = pipelineEnv(tables, topic);
    const [api, relay] = await Promise.all([
      startServiceProcess('order-api', env),
      startServiceProcess('outbox-relay', env),
    ]);
    processes.push(api, relay);
    const reader = await readTopic(topic);

    const placed = await postOrder(api.port, {
      items: [
        { productId: 'sku-1', quantity: 2, price: 12.5 },
        { productId: 'sku-2', quantity: 1, price: 0.99 },
      ],
    });
    expect(placed.status).toBe(201);
    const { orderId } = (await placed.json()) as { orderId: string };
    const cancelled = await fetch(`http://127.0.0.1:${api.port}/orders/${orderId}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'changed my mind' }),
    });
    expect(cancelled.status).toBe(200);

    // What order-api really wrote: the outbox items, less their storage-only attributes.
    const storage = new Set<string>(['expiresAt', ...OUTBOX_TIME_INDEX_ATTRIBUTES]);
    const items = (await scanAll(tables.outbox))
      .filter((item) => item.aggregateId === orderId)
      .sort((a, b) => Number(a.seq) - Number(b.seq))
      .map((item) => Object.fromEntries(Object.entries(item).filter(([name]) => !storage.has(name))));
    const fromOutbox = items.map((item) => validateOrderEvent(parseEnvelope(item)));
    expect(fromOutbox.map((event) => [event.type, event.envelope.seq])).toEqual([
      ['OrderCreated', 1],
      ['OrderCancelled', 2],
    ]);

    // What the relay really published: the notifier reads the Kafka value exactly as its consumer does.
    // One key, one partition: the records arrive in seq order.
    const records = await reader.waitForCount(2);
    await reader.stop();
    const fromKafka = records.map((record) => validateOrderEvent(parseEnvelope(Buffer.from(record.value ?? ''))));
    expect(fromKafka.map((event) => [event.type, event.envelope.seq])).toEqual([
      ['OrderCreated', 1],
      ['OrderCancelled', 2],
    ]);
    expect(fromKafka[0]?.payload).toMatchObject({ orderId, totalMinor: 2599, currency: 'USD' });
    expect(fromKafka[1]?.payload).toMatchObject({
      orderId,
      status: 'CANCELLED',
      reason: 'changed my mind',
      itemCount: 2,
    });

    // A consumer in another language would validate with the generated JSON Schema files.
    const values = records.map((record) => JSON.parse(record.value ?? 'null') as unknown);
    expect(jsonSchemaReader('OrderCreated.v1.schema.json').safeParse(values[0]).error).toBeUndefined();
    expect(jsonSchemaReader('OrderCancelled.v1.schema.json').safeParse(values[1]).error).toBeUndefined();
    expect(jsonSchemaReader('OrderCancelled.v1.schema.json').safeParse(values[0]).success).toBe(false);

    expect(await Promise.all([api.stop(), relay.stop()])).toEqual([0, 0]);
  });
});
