import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { waitFor } from '@outbox/shared';
import { createTestTables, createTestTopic, testEndpoints, uniqueName } from '../../../test/support/testStack';
import { readTopic } from '../../../test/support/topicReader';
import type { RedriveReport } from '../src/redrive/redriveDeadLetters';
import {
  deadLetterTopicFor,
  notificationsOf,
  orderCancelled,
  orderCreated,
  recordOf,
  startTestNotifier,
  testProducer,
} from './support/notifierTestKit';

const cli = join(__dirname, '..', 'dist', 'redrive', 'redriveCli.js');

function redrive(args: string[]): Promise<RedriveReport> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, LOG_LEVEL: 'warn' }, timeout: 60000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as RedriveReport);
      },
    );
  });
}

describe('dead-letter redrive', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  test('When dead letters are redriven after the fix, then a dry run only reports them, the real run moves them back up to the end offsets it saw, and the notifier processes them', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const brokers = testEndpoints().kafkaBrokers.join(',');
    const group = uniqueName('redrive');
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const orderId = randomUUID();
    const created = orderCreated(orderId);
    const cancelled = orderCancelled(orderId, 2);
    // The cancellation arrives without its creation: held, then dead-lettered as a gap.
    await producer.sendTo(topic, recordOf(cancelled));
    const notifier = await startTestNotifier({
      table,
      topic,
      groupId: uniqueName('notifier'),
      env: { NOTIFIER_GAP_TIMEOUT_MS: '500' },
    });
    cleanups.push(() => notifier.stop());
    const dlq = await readTopic(deadLetterTopicFor(topic));
    cleanups.push(() => dlq.stop());
    await dlq.waitForCount(1);
    // The fix: the missing creation event is published.
    await producer.sendTo(topic, recordOf(created));
    await waitFor(async () => (await notificationsOf(table, orderId)).length === 1, { what: 'the creation' });

    const dryRun = await redrive(['--dry-run', '--topic', topic, '--brokers', brokers, '--group', group]);
    expect(dryRun).toMatchObject({
      dryRun: true,
      from: deadLetterTopicFor(topic),
      to: topic,
      moved: 1,
      byReason: { gap: 1 },
    });
    expect(dryRun.messages[0]).toMatchObject({
      key: orderId,
      eventId: cancelled.eventId,
      reason: 'gap',
      errorCode: 'event.gap',
    });
    const main = await readTopic(topic);
    cleanups.push(() => main.stop());
    expect(await main.readToEnd()).toHaveLength(2);

    const real = await redrive(['--topic', topic, '--brokers', brokers, '--group', group]);
    expect(real).toMatchObject({ dryRun: false, moved: 1, byReason: { gap: 1 } });
    const records = await main.waitForCount(3);
    expect(records[2]).toMatchObject({ key: orderId, value: JSON.stringify(cancelled) });
    expect(records[2].headers).toMatchObject({ 'event-id': cancelled.eventId, 'redrive-count': '1' });
    expect(records[2].headers['first-failed-at']).toBeDefined();
    expect(records[2].headers['dead-letter-reason']).toBeUndefined();
    await waitFor(async () => (await notificationsOf(table, orderId)).length === 2, {
      what: 'the redriven cancellation',
    });
    expect((await notificationsOf(table, orderId)).map((n) => n.eventId)).toEqual([created.eventId, cancelled.eventId]);

    // What was moved is not moved again.
    expect(await redrive(['--topic', topic, '--brokers', brokers, '--group', group])).toMatchObject({
      moved: 0,
      messages: [],
    });
  });
});
