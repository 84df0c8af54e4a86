import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClients } from '@outbox/shared';
import { DynamoDbLocalServer, ensureTables } from '@outbox/local-stack';
import { createTestTopic, freePort, uniqueName, waitFor } from '@outbox/testkit';
import {
  committedOffsets,
  metricValue,
  orderCreated,
  partitionOf,
  recordOf,
  startTestNotifier,
  testProducer,
  waitForCommittedToEnd,
} from './support/notifierTestKit';

describe('DynamoDB outage', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  test('When DynamoDB is down (its own DynamoDB Local stopped), then the partition retries with backoff and commits nothing, and once it is back every event is stored once', async () => {
    const server = new DynamoDbLocalServer({
      port: await freePort(),
      dataDir: join(tmpdir(), uniqueName('notifier-ddb')),
      stopGraceMs: 5000,
    });
    await server.start();
    cleanups.push(() => server.stop());
    const { client, doc } = createDynamoDbClients({ region: 'us-east-1', endpoint: server.endpoint, maxAttempts: 1 });
    cleanups.push(async () => client.destroy());
    const tablePrefix = `${uniqueName('t')}-`;
    const table = (await ensureTables({ client, tablePrefix })).Notifications;
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const notifier = await startTestNotifier({ table, topic, groupId, env: { DYNAMODB_ENDPOINT: server.endpoint } });
    cleanups.push(() => notifier.stop());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());

    await server.stop();
    const events = [orderCreated(), orderCreated(), orderCreated()];
    await producer.sendTo(topic, ...events.map(recordOf));
    await waitFor(
      async () =>
        (await metricValue(notifier.registry, 'notifier_transient_retries_total', { code: 'inbox.unavailable' })) >= 3,
      {
        timeoutMs: 30000,
        what: 'retries while DynamoDB is down',
      },
    );
    const committed = await committedOffsets(topic, groupId);
    for (const event of events) expect(Number(committed[partitionOf(event.aggregateId)] ?? -1)).toBeLessThan(1);

    // DynamoDB Local keeps data in memory: it comes back empty, so the table is created again.
    await server.start();
    await ensureTables({ client, tablePrefix });
    const notifications = await waitFor(
      async () => {
        const { Items = [] } = await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
        const found = Items.filter((item) => String(item.sk).startsWith('NOTIFICATION#'));
        return found.length === events.length ? found : undefined;
      },
      { timeoutMs: 30000, what: 'every event stored after the outage' },
    );
    expect(notifications.map((n) => n.eventId).sort()).toEqual(events.map((e) => e.eventId).sort());
    await waitForCommittedToEnd(topic, groupId);
    expect(await metricValue(notifier.registry, 'notifier_dead_letters_total')).toBe(0);
  });
});
