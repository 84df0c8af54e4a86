import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ConfigResourceTypes } from 'kafkajs';
import { deadLetterTopicFor, waitFor } from '@outbox/shared';
import { createTestTables, createTestTopic, scanAll, testEndpoints, uniqueName } from '../../../test/support/testStack';
import { startServiceProcess, type ServiceProcess } from '../../../test/support/serviceProcess';
import {
  committedOffsets,
  notificationsOf,
  orderCreated,
  partitionOf,
  recordOf,
  testKafka,
  testProducer,
} from './support/notifierTestKit';
import { startWebhookReceiver } from './support/webhookReceiver';

async function metricsOf(service: ServiceProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
}

/**
 * Runs the built notifier (no readiness wait: these runs are expected to end by themselves) until
 * it exits or `timeoutMs` passes; returns its exit code and output.
 */
async function runNotifierUntilExit(
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ exitCode: number | null; output: string }> {
  const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'main.js')], {
    env: { ...process.env, LOG_LEVEL: 'warn', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  try {
    await waitFor(() => child.exitCode !== null, { timeoutMs, what: 'the notifier to exit' });
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  return { exitCode: child.exitCode, output: output.join('') };
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
        async () =>
          /notifier_duplicates_skipped_total\{[^}]*reason="event_id"[^}]*\} 1$/m.test(await metricsOf(second)),
        {
          timeoutMs: 30000,
          what: 'the redelivered event to be skipped',
        },
      );
      expect(await notificationsOf(tables.notifications, event.aggregateId)).toHaveLength(1);
      expect((await scanAll(tables.notifications)).filter((item) => item.pk === `INBOX#${event.eventId}`)).toHaveLength(
        1,
      );
      expect(await metricsOf(second)).toMatch(/notifier_events_processed_total\{[^}]*outcome="duplicate"[^}]*\} 1$/m);

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
    const run = await runNotifierUntilExit(
      {
        DYNAMODB_ENDPOINT: dynamodb,
        KAFKA_BROKERS: kafkaBrokers.join(','),
        NOTIFICATIONS_TABLE: tables.notifications,
        ORDER_EVENTS_TOPIC: topic,
        NOTIFIER_GROUP_ID: uniqueName('notifier'),
        KAFKA_SESSION_TIMEOUT_MS: String(2 * 60 * 60 * 1000),
      },
      30000,
    );
    expect(run.exitCode).toBe(1);
    expect(run.output).toContain('consumer crashed');
  });

  test('When the dead-letter topic refuses a letter for good (larger than its max.message.bytes), then the notifier exits with code 1 and leaves the message uncommitted instead of retrying it forever', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const { dynamodb, kafkaBrokers } = testEndpoints();
    const admin = testKafka().admin();
    await admin.connect();
    const producer = await testProducer();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: deadLetterTopicFor(topic),
            configEntries: [{ name: 'max.message.bytes', value: '1024' }],
          },
        ],
      });
      // Not JSON, so it is poison; 4 KB, so the dead-letter topic cannot take it.
      await producer.sendTo(topic, { key: 'order-too-large-letter', value: `not json ${'x'.repeat(4000)}` });
      const run = await runNotifierUntilExit(
        {
          DYNAMODB_ENDPOINT: dynamodb,
          KAFKA_BROKERS: kafkaBrokers.join(','),
          NOTIFICATIONS_TABLE: tables.notifications,
          ORDER_EVENTS_TOPIC: topic,
          NOTIFIER_GROUP_ID: groupId,
          KAFKA_FETCH_MAX_WAIT_MS: '250',
          SHUTDOWN_TIMEOUT_MS: '5000',
        },
        45000,
      );
      expect(run.exitCode).toBe(1);
      expect(run.output).toContain('the dead-letter topic refused a letter for good');
      const offsets = await committedOffsets(topic, groupId);
      expect(Object.values(offsets).every((offset) => Number(offset) < 1)).toBe(true);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
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
