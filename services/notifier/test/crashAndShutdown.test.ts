import { spawn } from 'node:child_process';
import { join } from 'node:path';
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
import { startWebhookReceiver } from './support/webhookReceiver';

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

  test('When the consumer crashes and kafkajs will not restart it (the broker refuses its session timeout), then the process exits with code 1 instead of idling', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const { dynamodb, kafkaBrokers } = testEndpoints();
    // Above the broker's group.max.session.timeout.ms (30 min by default): the join fails with a
    // non-retriable INVALID_SESSION_TIMEOUT, which kafkajs reports as a crash without restart.
    const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'main.js')], {
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        PORT: '0',
        DYNAMODB_ENDPOINT: dynamodb,
        KAFKA_BROKERS: kafkaBrokers.join(','),
        NOTIFICATIONS_TABLE: tables.notifications,
        ORDER_EVENTS_TOPIC: topic,
        NOTIFIER_GROUP_ID: uniqueName('notifier'),
        KAFKA_SESSION_TIMEOUT_MS: String(2 * 60 * 60 * 1000),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    try {
      await waitFor(() => child.exitCode !== null, { timeoutMs: 30000, what: 'the crashed notifier to exit' });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(child.exitCode).toBe(1);
    expect(output.join('')).toContain('consumer crashed');
  });

  test('When a graceful stop does not finish within SHUTDOWN_TIMEOUT_MS (a webhook delivery hangs), then the process exits with code 1', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const { dynamodb, kafkaBrokers } = testEndpoints();
    const secret = 'test-secret-0123456789abcdef';
    let arrived = false;
    const receiver = await startWebhookReceiver(
      secret,
      () => {
        arrived = true;
        return 200;
      },
      { delayMs: 4000 },
    );
    const producer = await testProducer();
    try {
      const notifier = await startServiceProcess('notifier', {
        DYNAMODB_ENDPOINT: dynamodb,
        KAFKA_BROKERS: kafkaBrokers.join(','),
        NOTIFICATIONS_TABLE: tables.notifications,
        ORDER_EVENTS_TOPIC: topic,
        NOTIFIER_GROUP_ID: uniqueName('notifier'),
        WEBHOOK_URL: receiver.url,
        WEBHOOK_SECRET: secret,
        WEBHOOK_TIMEOUT_MS: '20000',
        SHUTDOWN_TIMEOUT_MS: '500',
        KAFKA_FETCH_MAX_WAIT_MS: '250',
      });
      processes.push(notifier);
      await producer.sendTo(topic, recordOf(orderCreated()));
      await waitFor(() => arrived, { timeoutMs: 30000, what: 'the delivery to start' });
      expect(await notifier.stop()).toBe(1);
      expect(notifier.output.join('')).toContain('consumer did not stop cleanly');
    } finally {
      await producer.disconnect();
      await receiver.stop();
    }
  });
});
