import net from 'node:net';
import { CreateTableCommand, DescribeTableCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClients } from '@outbox/shared';
import {
  createTestTables,
  createTestTopic,
  freePort,
  readTopic,
  testEndpoints,
  uniqueName,
  waitFor,
} from '@outbox/testkit';
import { start, type RelayHandle } from '../src/start';
import { relayTestConfig, scrape, writeOutboxEvent } from './support';
import { PutCommand } from '@aws-sdk/lib-dynamodb';

const readyz = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`)).status;

describe('schema and setup tolerance', () => {
  const { dynamodb, region, kafkaBrokers } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  let relay: RelayHandle | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });
  afterAll(() => client.destroy());

  test('When an outbox item carries an attribute the envelope does not know, then its event is published without it and nothing is dead-lettered', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const events = await readTopic(topic);
    try {
      relay = await start(relayTestConfig({ tables, topic }));
      const { aggregateId } = await writeOutboxEvent(doc, tables.outbox);
      await doc.send(
        new PutCommand({
          TableName: tables.outbox,
          Item: {
            eventId: 'e-2',
            eventType: 'OrderCancelled',
            schemaVersion: 1,
            aggregateType: 'Order',
            aggregateId,
            seq: 2,
            occurredAt: new Date().toISOString(),
            payload: { orderId: aggregateId },
            expiresAt: Math.floor(Date.now() / 1000) + 86400,
            tenantId: 'added-by-a-newer-writer',
          },
        }),
      );
      const records = await events.waitForCount(2);
      expect(records.map((r) => (JSON.parse(r.value ?? '{}') as { seq: number }).seq)).toEqual([1, 2]);
      expect(JSON.parse(records[1]?.value ?? '{}')).not.toHaveProperty('tenantId');
      expect(await scrape(relay.port, 'relay_records_dead_lettered_total')).toBeUndefined();
    } finally {
      await events.stop();
    }
  });

  test('When the outbox table’s stream carries keys only, then start fails with an error that names the view type and the one needed', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const outbox = uniqueName('keys-only-outbox');
    await client.send(
      new CreateTableCommand({
        TableName: outbox,
        KeySchema: [
          { AttributeName: 'aggregateId', KeyType: 'HASH' },
          { AttributeName: 'seq', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'aggregateId', AttributeType: 'S' },
          { AttributeName: 'seq', AttributeType: 'N' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' },
      }),
    );
    await expect(start(relayTestConfig({ tables: { ...tables, outbox }, topic }))).rejects.toThrow(
      /stream view type KEYS_ONLY.*NEW_IMAGE/,
    );
  });

  test('When the relay starts while the outbox table has no stream, then it waits as a not-ready standby and starts relaying once the stream is enabled', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const setStream = (enabled: boolean) =>
      client.send(
        new UpdateTableCommand({
          TableName: tables.outbox,
          StreamSpecification: enabled
            ? { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' }
            : { StreamEnabled: false },
        }),
      );
    await setStream(false);
    await waitFor(
      async () =>
        (await client.send(new DescribeTableCommand({ TableName: tables.outbox }))).Table?.StreamSpecification
          ?.StreamEnabled !== true,
      { what: 'the stream to be disabled' },
    );
    const events = await readTopic(topic);
    try {
      relay = await start(relayTestConfig({ tables, topic }, { PUBLISH_RETRY_MAX_MS: '300' }));
      expect(await readyz(relay.port)).toBe(503);
      expect(relay.isLeader()).toBe(false);
      await setStream(true);
      const { aggregateId } = await writeOutboxEvent(doc, tables.outbox);
      const [record] = await events.waitForCount(1);
      expect(record?.key).toBe(aggregateId);
      expect(await readyz(relay.port)).toBe(200);
    } finally {
      await events.stop();
    }
  });

  test('When the relay starts while Kafka cannot be reached, then it waits as a not-ready standby and relays once Kafka answers', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    // The bootstrap address: refused at first, then forwarded to the real broker.
    const port = await freePort();
    const [kafkaHost, kafkaPort] = (kafkaBrokers[0] as string).split(':');
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((socket) => {
      const upstream = net.connect(Number(kafkaPort), kafkaHost);
      for (const s of [socket, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
      socket.pipe(upstream).pipe(socket);
    });
    const events = await readTopic(topic);
    try {
      relay = await start(
        relayTestConfig({ tables, topic, brokers: [`127.0.0.1:${port}`] }, { PUBLISH_RETRY_MAX_MS: '300' }),
      );
      expect(await readyz(relay.port)).toBe(503);
      expect(relay.isLeader()).toBe(false);
      const { aggregateId } = await writeOutboxEvent(doc, tables.outbox);
      await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
      const [record] = await events.waitForCount(1, 40_000);
      expect(record?.key).toBe(aggregateId);
      expect(await readyz(relay.port)).toBe(200);
    } finally {
      await relay?.stop();
      relay = undefined;
      for (const socket of sockets) socket.destroy();
      proxy.close();
      await events.stop();
    }
  }, 60_000);
});
