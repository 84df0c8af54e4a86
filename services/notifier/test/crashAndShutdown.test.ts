import { waitFor } from '@outbox/shared';
import { createTestTables, createTestTopic, scanAll, testEndpoints, uniqueName } from '../../../test/support/testStack';
import { startServiceProcess, type ServiceProcess } from '../../../test/support/serviceProcess';
import {
  committedOffsets,
  notificationsOf,
  orderCreated,
  partitionOf,
  recordOf,
  testProducer,
} from './support/notifierTestKit';

async function metricsOf(service: ServiceProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
}

describe('notifier process crash and shutdown', () => {
  const processes: ServiceProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
  });

  test('When the notifier is killed after storing a notification but before committing its offset, then the restarted notifier skips the redelivery, the effect happens once, and SIGTERM commits and leaves', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const { dynamodb, kafkaBrokers } = testEndpoints();
    const env = {
      DYNAMODB_ENDPOINT: dynamodb,
      KAFKA_BROKERS: kafkaBrokers.join(','),
      NOTIFICATIONS_TABLE: tables.notifications,
      ORDER_EVENTS_TOPIC: topic,
      NOTIFIER_GROUP_ID: groupId,
      // Commits wait ten minutes (or a graceful stop), so a kill always lands between effect and commit.
      NOTIFIER_COMMIT_INTERVAL_MS: '600000',
      // The killed member leaves the group after this long, letting the next one take its partitions.
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      KAFKA_HEARTBEAT_INTERVAL_MS: '500',
      KAFKA_FETCH_MAX_WAIT_MS: '250',
    };
    const producer = await testProducer();
    const event = orderCreated();
    const partition = partitionOf(event.aggregateId);
    try {
      const first = await startServiceProcess('notifier', env);
      processes.push(first);
      await producer.sendTo(topic, recordOf(event));
      await waitFor(async () => (await notificationsOf(tables.notifications, event.aggregateId)).length === 1, {
        timeoutMs: 30000,
        what: 'the first effect',
      });
      expect(Number((await committedOffsets(topic, groupId))[partition])).toBeLessThan(1);
      await first.kill();

      const second = await startServiceProcess('notifier', env);
      processes.push(second);
      await waitFor(
        async () => /notifier_duplicates_skipped_total\{[^}]*reason="event_id"[^}]*\} 1/.test(await metricsOf(second)),
        {
          timeoutMs: 30000,
          what: 'the redelivered event to be skipped',
        },
      );
      expect(await notificationsOf(tables.notifications, event.aggregateId)).toHaveLength(1);
      expect((await scanAll(tables.notifications)).filter((item) => item.pk === `INBOX#${event.eventId}`)).toHaveLength(
        1,
      );
      expect(await metricsOf(second)).toMatch(/notifier_events_processed_total\{[^}]*outcome="duplicate"[^}]*\} 1/);

      // Graceful stop: in-flight work finishes, the offset is committed, the member leaves the group.
      expect(await second.stop()).toBe(0);
      expect((await committedOffsets(topic, groupId))[partition]).toBe('1');
    } finally {
      await producer.disconnect();
    }
  });
});
