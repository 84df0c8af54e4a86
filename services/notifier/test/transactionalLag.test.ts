import { randomUUID } from 'node:crypto';
import { createTestTables, createTestTopic, uniqueName, waitFor } from '@outbox/testkit';
import {
  metricValue,
  notificationsOf,
  orderCreated,
  recordOf,
  startTestNotifier,
  testKafka,
  waitForCommittedToEnd,
} from './support/notifierTestKit';

describe('notifier consumer lag on a transactional topic', () => {
  test('When events arrive in committed transactions (and one aborted), then every event is handled once, the group commits past the commit markers to the end of each partition, and notifier_consumer_lag reaches 0', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const producer = testKafka().producer({
      transactionalId: uniqueName('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    const orders = Array.from({ length: 6 }, () => randomUUID());
    const aborted = randomUUID();
    try {
      for (const batch of [orders.slice(0, 3), orders.slice(3)]) {
        const transaction = await producer.transaction();
        await transaction.send({ topic, acks: -1, messages: batch.map((id) => recordOf(orderCreated(id))) });
        await transaction.commit();
      }
      const transaction = await producer.transaction();
      await transaction.send({ topic, acks: -1, messages: [recordOf(orderCreated(aborted))] });
      await transaction.abort();
    } finally {
      await producer.disconnect();
    }

    const notifier = await startTestNotifier({ table, topic, groupId });
    try {
      await waitFor(
        async () => {
          for (const id of orders) if ((await notificationsOf(table, id)).length !== 1) return false;
          return true;
        },
        { timeoutMs: 30000, what: 'one notification per committed event' },
      );
      await waitForCommittedToEnd(topic, groupId);
      await waitFor(
        async () => {
          const lag = await notifier.registry.getSingleMetric('notifier_consumer_lag')?.get();
          return (
            (lag?.values.length ?? 0) === 3 && (await metricValue(notifier.registry, 'notifier_consumer_lag')) === 0
          );
        },
        { timeoutMs: 15000, what: 'notifier_consumer_lag at 0 on all three partitions' },
      );
      expect(await notificationsOf(table, aborted)).toEqual([]);
    } finally {
      await notifier.stop();
    }
  }, 60000);
});
