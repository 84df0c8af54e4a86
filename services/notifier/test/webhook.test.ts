import { randomUUID } from 'node:crypto';
import { createTestTables, createTestTopic, readTopic, uniqueName, waitFor } from '@outbox/testkit';
import {
  committedOffsets,
  deadLetterTopicFor,
  cursorOf,
  metricValue,
  notificationsOf,
  orderCancelled,
  orderCreated,
  partitionOf,
  recordOf,
  startTestNotifier,
  testKafka,
  testProducer,
  waitForCommittedToEnd,
} from './support/notifierTestKit';
import { startWebhookReceiver } from '@outbox/testkit';

const secret = 'test-secret-0123456789abcdef';

describe('webhook channel', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  test('When the webhook answers 503 for a while, then it sees exactly one accepted, HMAC-signed delivery per event, keyed by the event id', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    let unavailableUntil = Date.now() + 60_000;
    const receiver = await startWebhookReceiver(secret, () => (Date.now() < unavailableUntil ? 503 : 200));
    cleanups.push(() => receiver.stop());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const events = [orderCreated(), orderCreated(), orderCreated()];
    await producer.sendTo(topic, ...events.map(recordOf));

    const notifier = await startTestNotifier({
      table,
      topic,
      groupId: uniqueName('notifier'),
      env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret, WEBHOOK_TIMEOUT_MS: '2000' },
    });
    cleanups.push(() => notifier.stop());
    // Several 503s (each followed by a paused partition and a longer backoff), then the receiver recovers.
    await waitFor(() => receiver.requests.filter((r) => r.status === 503).length >= 6, { what: 'several 503 answers' });
    unavailableUntil = 0;
    await waitFor(() => receiver.accepted.size === 3, { timeoutMs: 30000, what: 'every event accepted' });
    await waitFor(
      async () =>
        (await Promise.all(events.map((e) => notificationsOf(table, e.aggregateId)))).every(
          (n) => n[0]?.deliveryStatus === 'delivered',
        ),
      {
        what: 'every notification marked delivered',
      },
    );

    expect([...receiver.accepted.keys()].sort()).toEqual(events.map((e) => e.eventId).sort());
    expect([...receiver.accepted.values()]).toEqual([1, 1, 1]);
    expect(receiver.requests.every((r) => r.signatureValid)).toBe(true);
    const delivered = receiver.requests.filter((r) => r.status === 200);
    expect(delivered.map((r) => r.body.eventId).sort()).toEqual(events.map((e) => e.eventId).sort());
    expect(delivered[0].body).toMatchObject({
      kind: 'order_confirmation',
      totalMinor: 2500,
      currency: 'USD',
      customerId: 'customer-1',
    });
    // Each notification was stored once, however often the webhook was retried.
    for (const event of events) expect(await notificationsOf(table, event.aggregateId)).toHaveLength(1);
    expect(
      await metricValue(notifier.registry, 'notifier_transient_retries_total', { code: 'webhook.unavailable' }),
    ).toBeGreaterThanOrEqual(6);
    expect(await metricValue(notifier.registry, 'notifier_webhook_deliveries_total', { outcome: 'delivered' })).toBe(3);
  });

  test('When the webhook fails for one order only, then only that partition pauses while other partitions keep delivering, and its next event waits in order', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const stuck = randomUUID();
    const sibling = randomUUID(); // same partition as `stuck`, produced after it
    let other = randomUUID();
    while (partitionOf(other) === partitionOf(stuck)) other = randomUUID();
    let release = false;
    const receiver = await startWebhookReceiver(secret, ({ body }) => (body.orderId === stuck && !release ? 503 : 200));
    cleanups.push(() => receiver.stop());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const stuckEvent = orderCreated(stuck);
    const siblingEvent = orderCreated(sibling);
    await producer.sendTo(topic, recordOf(stuckEvent), { ...recordOf(siblingEvent), key: stuck });

    const notifier = await startTestNotifier({
      table,
      topic,
      groupId: uniqueName('notifier'),
      env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret },
    });
    cleanups.push(() => notifier.stop());
    await waitFor(() => receiver.requests.filter((r) => r.status === 503).length >= 2, {
      what: 'the stuck order failing',
    });
    const otherEvent = orderCreated(other);
    await producer.sendTo(topic, recordOf(otherEvent));
    await waitFor(() => receiver.accepted.has(otherEvent.eventId), {
      timeoutMs: 30000,
      what: 'the other partition delivering',
    });
    // The stuck partition is paused: the event behind the stuck one was not even stored yet.
    expect(receiver.accepted.has(stuckEvent.eventId)).toBe(false);
    expect(receiver.requests.some((r) => r.idempotencyKey === siblingEvent.eventId)).toBe(false);
    expect(await notificationsOf(table, sibling)).toEqual([]);

    release = true;
    await waitFor(() => receiver.accepted.has(siblingEvent.eventId), {
      timeoutMs: 30000,
      what: 'the stuck partition to recover',
    });
    const order = receiver.requests.filter((r) => r.status === 200).map((r) => r.idempotencyKey);
    expect(order.indexOf(stuckEvent.eventId)).toBeLessThan(order.indexOf(siblingEvent.eventId));
    expect([...receiver.accepted.values()].every((count) => count === 1)).toBe(true);
  });

  test('When the webhook answers 400, then the event is dead-lettered with reason webhook_rejected without retries and the partition goes on', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const rejected = orderCreated();
    const next = orderCreated(randomUUID());
    const receiver = await startWebhookReceiver(secret, ({ idempotencyKey }) =>
      idempotencyKey === rejected.eventId ? 400 : 200,
    );
    cleanups.push(() => receiver.stop());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    await producer.sendTo(topic, recordOf(rejected), { ...recordOf(next), key: rejected.aggregateId });
    const dlq = await readTopic(deadLetterTopicFor(topic));
    cleanups.push(() => dlq.stop());

    const notifier = await startTestNotifier({
      table,
      topic,
      groupId: uniqueName('notifier'),
      env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret },
    });
    cleanups.push(() => notifier.stop());
    const [letter] = await dlq.waitForCount(1);
    expect(letter.headers).toMatchObject({
      'dead-letter-reason': 'webhook_rejected',
      'error-code': 'webhook.rejected',
      'event-id': rejected.eventId,
    });
    await waitFor(() => receiver.accepted.has(next.eventId), { what: 'the next event delivered' });
    expect(receiver.requests.filter((r) => r.idempotencyKey === rejected.eventId)).toHaveLength(1);
    expect((await notificationsOf(table, rejected.aggregateId))[0]).toMatchObject({ deliveryStatus: 'rejected' });
  });

  test('When the notifier stops while a delivery is in flight, then it finishes that delivery, commits its offset and leaves the group', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    let requestArrived = false;
    const receiver = await startWebhookReceiver(
      secret,
      () => {
        requestArrived = true;
        return 200;
      },
      { delayMs: 1500 },
    );
    cleanups.push(() => receiver.stop());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const event = orderCreated();
    const notifier = await startTestNotifier({
      table,
      topic,
      groupId,
      env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret },
    });
    await producer.sendTo(topic, recordOf(event));
    await waitFor(() => requestArrived, { what: 'the delivery to start' });

    await notifier.stop();
    expect(receiver.accepted.get(event.eventId)).toBe(1);
    expect((await notificationsOf(table, event.aggregateId))[0]).toMatchObject({ deliveryStatus: 'delivered' });
    expect((await committedOffsets(topic, groupId))[partitionOf(event.aggregateId)]).toBe('1');
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([groupId]);
      expect(groups[0]).toMatchObject({ state: 'Empty', members: [] });
    } finally {
      await admin.disconnect();
    }
  });

  test.each([
    ['attempts', { WEBHOOK_MAX_ATTEMPTS: '3' }],
    ['time', { WEBHOOK_MAX_ATTEMPTS: '1000', WEBHOOK_MAX_RETRY_MS: '1500' }],
  ])(
    'When the webhook always fails one event, then once its budget of %s is used up it is dead-lettered as webhook_exhausted and the events behind it on its partition and on others flow',
    async (budget, budgetEnv) => {
      const { notifications: table } = await createTestTables();
      const topic = await createTestTopic();
      const groupId = uniqueName('notifier');
      const stuck = orderCreated();
      const behind = orderCreated();
      let other = orderCreated();
      while (partitionOf(other.aggregateId) === partitionOf(stuck.aggregateId)) other = orderCreated();
      const receiver = await startWebhookReceiver(secret, ({ idempotencyKey }) =>
        idempotencyKey === stuck.eventId ? 503 : 200,
      );
      cleanups.push(() => receiver.stop());
      const producer = await testProducer();
      cleanups.push(() => producer.disconnect());
      await producer.sendTo(topic, recordOf(stuck), { ...recordOf(behind), key: stuck.aggregateId }, recordOf(other));
      const dlq = await readTopic(deadLetterTopicFor(topic));
      cleanups.push(() => dlq.stop());

      const notifier = await startTestNotifier({
        table,
        topic,
        groupId,
        env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret, ...budgetEnv },
      });
      cleanups.push(() => notifier.stop());
      const [letter] = await dlq.waitForCount(1);
      expect(letter.key).toBe(stuck.aggregateId);
      expect(letter.headers).toMatchObject({
        'dead-letter-reason': 'webhook_exhausted',
        'error-code': 'webhook.exhausted',
        'dead-letter-origin': 'notifier',
        'event-id': stuck.eventId,
      });
      await waitFor(() => receiver.accepted.has(behind.eventId) && receiver.accepted.has(other.eventId), {
        timeoutMs: 30000,
        what: 'the other events delivered',
      });
      await waitForCommittedToEnd(topic, groupId);
      const failures = receiver.requests.filter((r) => r.idempotencyKey === stuck.eventId);
      if (budget === 'attempts') expect(failures).toHaveLength(3);
      else expect(failures[failures.length - 1].at - failures[0].at).toBeGreaterThanOrEqual(1400);
      // The notification stays stored (the cursor moved on); its delivery says it was given up.
      expect((await notificationsOf(table, stuck.aggregateId))[0]).toMatchObject({
        deliveryStatus: 'exhausted',
        deliveryAttempts: failures.length,
      });
      expect(await dlq.readToEnd()).toHaveLength(1);
      expect(await metricValue(notifier.registry, 'notifier_dead_letters_total', { reason: 'webhook_exhausted' })).toBe(
        1,
      );
    },
  );

  test('When a held event is stored once its gap closes but its webhook keeps failing past the gap timeout, then the sweep retries it with growing delays and it is dead-lettered as webhook_exhausted, never as gap', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const created = orderCreated();
    const cancelled = orderCancelled(created.aggregateId, 2);
    const receiver = await startWebhookReceiver(secret, ({ idempotencyKey }) =>
      idempotencyKey === cancelled.eventId ? 503 : 200,
    );
    cleanups.push(() => receiver.stop());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    // seq 2 first: held until seq 1 is stored, then stored itself, but its webhook never succeeds.
    await producer.sendTo(topic, recordOf(cancelled), recordOf(created));
    const dlq = await readTopic(deadLetterTopicFor(topic));
    cleanups.push(() => dlq.stop());

    const notifier = await startTestNotifier({
      table,
      topic,
      groupId,
      env: {
        WEBHOOK_URL: receiver.url,
        WEBHOOK_SECRET: secret,
        WEBHOOK_MAX_ATTEMPTS: '6',
        NOTIFIER_GAP_TIMEOUT_MS: '800',
        NOTIFIER_GAP_RECHECK_MAX_MS: '400',
      },
    });
    cleanups.push(() => notifier.stop());
    const [letter] = await dlq.waitForCount(1);
    expect(letter.headers).toMatchObject({
      'dead-letter-reason': 'webhook_exhausted',
      'event-id': cancelled.eventId,
    });
    await waitForCommittedToEnd(topic, groupId);
    expect(notifier.heldCount()).toBe(0);
    const failures = receiver.requests.filter((r) => r.idempotencyKey === cancelled.eventId);
    expect(failures).toHaveLength(6);
    // The attempts outlasted the gap timeout, which no longer applies once the event left its gap.
    expect(failures[5].at - failures[0].at).toBeGreaterThan(800);
    // The sweep backs off per aggregate: from NOTIFIER_GAP_RECHECK_MS (100 ms) up to the 400 ms cap
    // (less at most 20% jitter), where a sweep without backoff would retry every 100 ms.
    expect(failures[5].at - failures[4].at).toBeGreaterThanOrEqual(300);
    expect(failures[4].at - failures[3].at).toBeGreaterThanOrEqual(300);
    expect((await cursorOf(table, created.aggregateId))?.lastSeq).toBe(2);
    expect(await dlq.readToEnd()).toHaveLength(1);
    expect(await metricValue(notifier.registry, 'notifier_dead_letters_total', { reason: 'gap' })).toBe(0);
  });

  test('When the webhook answers 429 with Retry-After, then the next attempt waits at least that long', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const event = orderCreated();
    const receiver = await startWebhookReceiver(secret, ({ attempt }) =>
      attempt === 1 ? { status: 429, headers: { 'retry-after': '2' } } : 200,
    );
    cleanups.push(() => receiver.stop());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    await producer.sendTo(topic, recordOf(event));
    const notifier = await startTestNotifier({
      table,
      topic,
      groupId: uniqueName('notifier'),
      env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret },
    });
    cleanups.push(() => notifier.stop());
    await waitFor(() => receiver.accepted.has(event.eventId), {
      timeoutMs: 30000,
      what: 'the delivery after the wait',
    });
    const [throttled, accepted] = receiver.requests;
    expect(throttled.status).toBe(429);
    // The backoff alone would retry after about 50 ms.
    expect(accepted.at - throttled.at).toBeGreaterThanOrEqual(1900);
  });
});
