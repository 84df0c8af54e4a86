import { randomUUID } from 'node:crypto';
import { waitFor } from '@outbox/shared';
import { createTestTables, createTestTopic, scanAll, uniqueName } from '../../../test/support/testStack';
import { readTopic } from '../../../test/support/topicReader';
import type { NotifierHandle } from '../src/start';
import {
  cursorOf,
  deadLetterTopicFor,
  metricValue,
  notificationsOf,
  orderCancelled,
  orderCreated,
  recordOf,
  startTestNotifier,
  testProducer,
  waitForCommittedToEnd,
} from './support/notifierTestKit';

describe('notifier against real Kafka and DynamoDB Local', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  const started = async (notifier: NotifierHandle) => {
    cleanups.push(() => notifier.stop());
    return notifier;
  };

  test('When events arrive duplicated and out of order, then each aggregate gets one notification per seq, in seq order, and duplicates, stale seqs and held gaps are counted', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const a = randomUUID();
    const b = randomUUID();
    const a1 = orderCreated(a);
    const a2 = orderCancelled(a, 2);
    const a3 = orderCancelled(a, 3, { eventType: 'OrderCancelled' });
    const staleA1 = orderCreated(a); // another event id claiming seq 1
    const b1 = orderCreated(b);
    const b2 = orderCancelled(b, 2);
    // a3 skips ahead of a2; a1 comes twice; b is in order.
    await producer.sendTo(
      topic,
      recordOf(a1),
      recordOf(a1),
      recordOf(a3),
      recordOf(b1),
      recordOf(a2),
      recordOf(staleA1),
      recordOf(b2),
    );

    const notifier = await started(await startTestNotifier({ table, topic, groupId }));
    await waitFor(
      async () => (await notificationsOf(table, a)).length === 3 && (await notificationsOf(table, b)).length === 2,
      {
        timeoutMs: 30000,
        what: 'the notifications of both aggregates',
      },
    );
    await waitForCommittedToEnd(topic, groupId);

    const ofA = await notificationsOf(table, a);
    expect(ofA.map((n) => [n.seq, n.eventId, n.kind])).toEqual([
      [1, a1.eventId, 'order_confirmation'],
      [2, a2.eventId, 'order_cancellation'],
      [3, a3.eventId, 'order_cancellation'],
    ]);
    // The cursor only moves by one, so seq 3 was stored after seq 2 although it was read first.
    expect(ofA.map((n) => String(n.createdAt))).toEqual(ofA.map((n) => String(n.createdAt)).sort());
    expect(await cursorOf(table, a)).toMatchObject({ lastSeq: 3, lastEventId: a3.eventId });
    expect((await notificationsOf(table, b)).map((n) => n.eventId)).toEqual([b1.eventId, b2.eventId]);
    const inboxMarkers = (await scanAll(table)).filter((item) => String(item.pk).startsWith('INBOX#'));
    expect(inboxMarkers).toHaveLength(5);
    expect(String(ofA[0].body)).toContain('Total: 25.00 USD');
    expect(String(ofA[1].body)).toContain('has been cancelled');

    expect(await metricValue(notifier.registry, 'notifier_duplicates_skipped_total', { reason: 'event_id' })).toBe(1);
    expect(await metricValue(notifier.registry, 'notifier_duplicates_skipped_total', { reason: 'stale_seq' })).toBe(1);
    expect(await metricValue(notifier.registry, 'notifier_gaps_held_total')).toBe(1);
    expect(await metricValue(notifier.registry, 'notifier_events_processed_total', { outcome: 'stored' })).toBe(5);
    expect(notifier.heldCount()).toBe(0);
    const metricsText = await (await fetch(`http://127.0.0.1:${notifier.port}/metrics`)).text();
    expect(metricsText).toMatch(/notifier_end_to_end_latency_seconds_count\{[^}]*\} 5$/m);
    expect(metricsText).toMatch(/notifier_consumer_lag\{[^}]*partition="\d"[^}]*\} 0$/m);
  });

  test('When the missing seq never arrives, then the held event is dead-lettered with reason gap after the gap timeout and the partition goes on', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const a = randomUUID();
    const orphan = orderCancelled(a, 2);
    const later = orderCreated(randomUUID());
    // Same key, so the later event shares the orphan's partition.
    await producer.sendTo(topic, recordOf(orphan), { ...recordOf(later), key: a });

    const dlq = await readTopic(deadLetterTopicFor(topic));
    cleanups.push(() => dlq.stop());
    const notifier = await started(
      await startTestNotifier({ table, topic, groupId, env: { NOTIFIER_GAP_TIMEOUT_MS: '3000' } }),
    );
    await waitFor(async () => (await notificationsOf(table, later.aggregateId)).length === 1, {
      what: 'the later event',
    });
    expect(notifier.heldCount()).toBe(1);

    const [letter] = await dlq.waitForCount(1);
    expect(letter.key).toBe(a);
    expect(JSON.parse(letter.value ?? '')).toEqual(orphan);
    expect(letter.headers).toMatchObject({
      'dead-letter-reason': 'gap',
      'error-code': 'event.gap',
      '__connect.errors.topic': topic,
      '__connect.errors.offset': '0',
      'dead-letter-origin': 'notifier',
      'event-id': orphan.eventId,
    });
    expect(Date.parse(letter.headers['first-failed-at'])).toBeLessThanOrEqual(
      Date.parse(letter.headers['dead-lettered-at']),
    );
    expect(await notificationsOf(table, a)).toEqual([]);
    await waitForCommittedToEnd(topic, groupId);
    expect(notifier.heldCount()).toBe(0);
    expect(await metricValue(notifier.registry, 'notifier_dead_letters_total', { reason: 'gap' })).toBe(1);
  });

  test('When poison messages arrive, then each lands in the DLQ with its reason and original coordinates, and the messages after them are processed', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const key = randomUUID();
    const good = orderCreated(key);
    const unknownType = orderCreated(key, { eventType: 'OrderShipped' });
    const futureVersion = orderCreated(key, { schemaVersion: 2 });
    const noItems = orderCreated(key);
    noItems.payload = { ...noItems.payload, items: [] };
    await producer.sendTo(
      topic,
      { key, value: '{"not json' },
      { key, value: JSON.stringify({ eventId: 'x' }) },
      recordOf(unknownType),
      recordOf(futureVersion),
      recordOf(noItems),
      recordOf(good),
    );

    const dlq = await readTopic(deadLetterTopicFor(topic));
    cleanups.push(() => dlq.stop());
    const notifier = await started(await startTestNotifier({ table, topic, groupId }));
    await waitFor(async () => (await notificationsOf(table, key)).length === 1, {
      what: 'the good event after the poison',
    });
    const letters = await dlq.waitForCount(5);
    expect(
      letters.map((l) => [
        l.headers['__connect.errors.offset'],
        l.headers['dead-letter-reason'],
        l.headers['error-code'],
      ]),
    ).toEqual([
      ['0', 'invalid_json', 'event.invalid_json'],
      ['1', 'invalid_envelope', 'event.invalid_envelope'],
      ['2', 'unknown_type', 'event.unknown_type'],
      ['3', 'unsupported_schema_version', 'event.unsupported_schema_version'],
      ['4', 'schema_violation', 'event.schema_violation'],
    ]);
    for (const letter of letters) {
      expect(letter.key).toBe(key);
      expect(letter.headers['__connect.errors.topic']).toBe(topic);
      expect(letter.headers['__connect.errors.partition']).toMatch(/^\d$/);
      expect(letter.headers['__connect.errors.exception.class.name']).toBe('AppError');
      expect(letter.headers['dead-letter-origin']).toBe('notifier');
      expect(Number.isNaN(Date.parse(letter.headers['first-failed-at']))).toBe(false);
      expect(letter.headers['__connect.errors.exception.message'].length).toBeGreaterThan(0);
    }
    expect(letters[0].value).toBe('{"not json');
    expect((await notificationsOf(table, key))[0]).toMatchObject({ eventId: good.eventId, seq: 1 });
    await waitForCommittedToEnd(topic, groupId);
    expect(await metricValue(notifier.registry, 'notifier_dead_letters_total')).toBe(5);
    // Label values stay bounded: an invented event type is counted as `unknown`, not as itself.
    expect(
      await metricValue(notifier.registry, 'notifier_events_processed_total', {
        event_type: 'unknown',
        outcome: 'dead_lettered',
      }),
    ).toBe(3);
    expect(
      await metricValue(notifier.registry, 'notifier_events_processed_total', { event_type: 'OrderShipped' }),
    ).toBe(0);
  });
});
