import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { buildDeadLetterHeaders, createDynamoDbClients, relayDeadLetterValue } from '@outbox/shared';
import { createTestTables, createTestTopic, readTopic, testEndpoints, uniqueName, waitFor } from '@outbox/testkit';
import type { RedriveReport } from '../src/redrive/redriveDeadLetters';
import { RedriveLease } from '../src/redrive/RedriveLease';
import {
  deadLetterTopicFor,
  notificationsOf,
  orderCancelled,
  orderCreated,
  recordOf,
  startTestNotifier,
  testKafka,
  testProducer,
} from './support/notifierTestKit';

const cli = join(__dirname, '..', 'dist', 'redrive', 'redriveCli.js');

/** Runs the redrive CLI as its own process; resolves with its exit code, report and standard error. */
function runRedrive(args: string[], table: string): Promise<{ code: number; report?: RedriveReport; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        env: {
          ...process.env,
          LOG_LEVEL: 'warn',
          DYNAMODB_ENDPOINT: testEndpoints().dynamodb,
          NOTIFICATIONS_TABLE: table,
        },
        timeout: 60000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, report: code === 0 ? (JSON.parse(stdout) as RedriveReport) : undefined, stderr });
      },
    );
  });
}

async function redrive(args: string[], table: string): Promise<RedriveReport> {
  const { code, report, stderr } = await runRedrive(args, table);
  if (code !== 0 || !report) throw new Error(`redrive exited with ${code}: ${stderr}`);
  return report;
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

    const dryRun = await redrive(['--dry-run', '--topic', topic, '--brokers', brokers, '--group', group], table);
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
      origin: 'notifier',
      action: 'replay',
    });
    const main = await readTopic(topic);
    cleanups.push(() => main.stop());
    expect(await main.readToEnd()).toHaveLength(2);

    const real = await redrive(['--topic', topic, '--brokers', brokers, '--group', group], table);
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
    expect(await redrive(['--topic', topic, '--brokers', brokers, '--group', group], table)).toMatchObject({
      moved: 0,
      messages: [],
    });
  });

  test('When the DLQ was written transactionally with relay and notifier letters, then the redrive replays only committed notifier letters, leaves relay letters, finishes past the commit markers, and a concurrent run is refused with exit code 3', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const dlqTopic = deadLetterTopicFor(topic);
    const brokers = testEndpoints().kafkaBrokers.join(',');
    const group = uniqueName('redrive');
    const event = orderCreated();
    const aborted = orderCreated(event.aggregateId, { seq: 2 });
    const notifierLetter = (e: typeof event) => ({
      key: e.aggregateId,
      value: JSON.stringify(e),
      headers: buildDeadLetterHeaders({
        origin: 'notifier',
        errorCode: 'webhook.exhausted',
        errorMessage: 'Webhook answered 503',
        record: { topic, partition: 0, offset: '0' },
        originalHeaders: recordOf(e).headers,
      }),
    });
    const relayItem = { aggregateId: event.aggregateId, seq: 3, payload: 'not an envelope' };
    const relayLetter = {
      key: event.aggregateId,
      value: relayDeadLetterValue(relayItem),
      headers: buildDeadLetterHeaders({
        origin: 'relay',
        errorCode: 'event.invalid_envelope',
        errorMessage: 'eventId is required',
        source: { shardId: 'shardId-1', sequenceNumber: '99' },
      }),
    };
    // As the relay writes in transactional mode: each batch a transaction, each ending in a commit marker.
    const producer = testKafka().producer({
      transactionalId: uniqueName('dlq-writer'),
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const committed = await producer.transaction();
    await committed.send({ topic: dlqTopic, acks: -1, messages: [notifierLetter(event), relayLetter] });
    await committed.commit();
    const abortedTx = await producer.transaction();
    await abortedTx.send({ topic: dlqTopic, acks: -1, messages: [notifierLetter(aborted)] });
    await abortedTx.abort();

    // Another run holds the lease: this one is refused, moves nothing, and says why.
    const { doc, client } = createDynamoDbClients({ region: 'us-east-1', endpoint: testEndpoints().dynamodb });
    cleanups.push(async () => client.destroy());
    const other = new RedriveLease({ doc, table, name: dlqTopic, durationMs: 60000 });
    await other.acquire();
    const args = ['--topic', topic, '--brokers', brokers, '--group', group, '--timeout-ms', '30000'];
    const refused = await runRedrive(args, table);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('Another redrive of this dead-letter topic is running');
    expect(refused.stderr).toContain(other.owner);
    await other.release();

    const report = await redrive(args, table);
    expect(report).toMatchObject({ moved: 1, left: 1, byReason: { webhook_exhausted: 1, invalid_envelope: 1 } });
    expect(report.messages.map((m) => [m.origin, m.action, m.eventId ?? m.sourceSequenceNumber])).toEqual([
      ['notifier', 'replay', event.eventId],
      ['relay', 'leave', '99'],
    ]);
    const main = await readTopic(topic);
    cleanups.push(() => main.stop());
    const replayed = await main.readToEnd();
    expect(replayed).toHaveLength(1);
    expect(replayed[0]).toMatchObject({ key: event.aggregateId, value: JSON.stringify(event) });
    expect(replayed[0].headers).toMatchObject({ 'event-id': event.eventId, 'redrive-count': '1' });
    expect(replayed[0].headers['__connect.errors.topic']).toBeUndefined();
    expect(replayed[0].headers['dead-letter-origin']).toBeUndefined();

    // The next run starts past the commit markers: nothing left, and it still finishes.
    expect(await redrive(args, table)).toMatchObject({ moved: 0, left: 0, messages: [] });
    // A lease that is released lets the next run in; one that lapsed does too.
    const lapsed = new RedriveLease({ doc, table, name: dlqTopic, durationMs: 1 });
    await lapsed.acquire();
    const next = new RedriveLease({ doc, table, name: dlqTopic, durationMs: 60000 });
    await waitFor(
      () =>
        next.acquire().then(
          () => true,
          () => false,
        ),
      { what: 'the lapsed lease to be taken' },
    );
    await expect(lapsed.renew()).rejects.toMatchObject({ code: 'redrive.lease_lost' });
    await next.release();
  });
});
