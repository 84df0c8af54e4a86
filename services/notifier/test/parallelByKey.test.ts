import { randomUUID } from 'node:crypto';
import { topicDefinitions } from '@outbox/shared';
import { scrape, waitFor } from '@outbox/testkit';
import { ensureTopics } from '@outbox/local-stack';
import { createTestTables, createTestTopic, scanAll, testEndpoints, uniqueName } from '@outbox/testkit';
import { startServiceProcess, type ServiceProcess } from '@outbox/testkit';
import {
  committedOffsets,
  metricValue,
  notificationsOf,
  orderCancelled,
  orderCreated,
  partitionOf,
  recordOf,
  samePartitionIds,
  startTestNotifier,
  testProducer,
  waitForCommittedToEnd,
} from './support/notifierTestKit';
import { startWebhookReceiver } from '@outbox/testkit';

const secret = 'test-secret-0123456789abcdef';

/** A promise the test resolves when it lets a held webhook request answer. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** The webhook's own latency: how long the receiver takes to answer one request. */
const answerAfter = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('notifier parallel by key within a partition', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  test('When the webhook holds the first aggregate’s event, then an event of another aggregate behind it on the same partition is stored and delivered meanwhile', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const [first, second] = samePartitionIds(2);
    const held = gate();
    const receiver = await startWebhookReceiver(secret, async ({ body }) => {
      if (body.orderId === first) await held.opened;
      return 200;
    });
    cleanups.push(() => receiver.stop());
    cleanups.push(async () => held.open());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const firstEvent = orderCreated(first);
    const secondEvent = orderCreated(second);
    await producer.sendTo(topic, recordOf(firstEvent), recordOf(secondEvent));

    const notifier = await startTestNotifier({
      table,
      topic,
      groupId,
      env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret, WEBHOOK_TIMEOUT_MS: '20000' },
    });
    cleanups.push(() => notifier.stop());
    await waitFor(async () => (await notificationsOf(table, second))[0]?.deliveryStatus === 'delivered', {
      timeoutMs: 30000,
      what: 'the second aggregate delivered',
    });
    // The first event's request is still open: the second one overtook it.
    expect(receiver.open()).toBe(1);
    expect(receiver.accepted.has(firstEvent.eventId)).toBe(false);
    expect((await notificationsOf(table, first))[0]).toMatchObject({ deliveryStatus: 'pending' });

    held.open();
    await waitFor(() => receiver.accepted.has(firstEvent.eventId), { what: 'the first event delivered' });
    await waitForCommittedToEnd(topic, groupId);
    expect([...receiver.accepted.values()]).toEqual([1, 1]);
  });

  test('When events of three aggregates are interleaved on one partition and the webhook answers at varying speeds, then each aggregate’s events are delivered strictly in seq order, one at a time, while the aggregates run side by side', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const ids = samePartitionIds(3);
    const open = new Map<string, number>();
    let overlapWithinAggregate = false;
    let answers = 0;
    const receiver = await startWebhookReceiver(secret, async ({ body }) => {
      const id = String(body.orderId);
      open.set(id, (open.get(id) ?? 0) + 1);
      if ((open.get(id) ?? 0) > 1) overlapWithinAggregate = true;
      // Latencies that differ per request, so a later seq would overtake an earlier one if it could.
      answers += 1;
      await answerAfter([40, 5, 25, 0, 15][answers % 5]);
      open.set(id, (open.get(id) ?? 0) - 1);
      return 200;
    });
    cleanups.push(() => receiver.stop());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const seqs = [1, 2, 3, 4];
    const events = seqs.flatMap((seq) => ids.map((id) => (seq === 1 ? orderCreated(id) : orderCancelled(id, seq))));
    await producer.sendTo(topic, ...events.map(recordOf));

    const notifier = await startTestNotifier({
      table,
      topic,
      groupId,
      env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret },
    });
    cleanups.push(() => notifier.stop());
    await waitFor(() => receiver.accepted.size === events.length, { timeoutMs: 30000, what: 'every event delivered' });
    await waitForCommittedToEnd(topic, groupId);

    for (const id of ids) {
      const delivered = receiver.requests.filter((r) => r.body.orderId === id).map((r) => r.body.seq);
      expect(delivered).toEqual(seqs);
      expect((await notificationsOf(table, id)).map((n) => n.seq)).toEqual(seqs);
    }
    expect(overlapWithinAggregate).toBe(false);
    // Nothing ever ran ahead of its aggregate's cursor, and the aggregates did overlap.
    expect(await metricValue(notifier.registry, 'notifier_gaps_held_total')).toBe(0);
    expect(receiver.maxOpen()).toBeGreaterThan(1);
  });

  test('When NOTIFIER_MAX_IN_FLIGHT is 3 and twelve aggregates wait on one partition behind a slow webhook, then exactly three are in flight at a time, never more', async () => {
    const { notifications: table } = await createTestTables();
    const topic = await createTestTopic();
    const groupId = uniqueName('notifier');
    const ids = samePartitionIds(12);
    const receiver = await startWebhookReceiver(secret, () => 200, { delayMs: 150 });
    cleanups.push(() => receiver.stop());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const events = ids.map((id) => orderCreated(id));
    await producer.sendTo(topic, ...events.map(recordOf));

    const notifier = await startTestNotifier({
      table,
      topic,
      groupId,
      env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret, NOTIFIER_MAX_IN_FLIGHT: '3' },
    });
    cleanups.push(() => notifier.stop());
    await waitFor(() => receiver.accepted.size === events.length, { timeoutMs: 30000, what: 'every event delivered' });
    await waitForCommittedToEnd(topic, groupId);
    expect(receiver.maxOpen()).toBe(3);
    expect([...receiver.accepted.values()].every((count) => count === 1)).toBe(true);
  });

  test('When a partition moves to a new member while one of its events is still running on the old one, then the old member never commits it after the revocation, even when that event finishes, and the new owner processes it with one stored effect', async () => {
    const { notifications: table } = await createTestTables();
    const topic = uniqueName('orders');
    await ensureTopics({
      brokers: testEndpoints().kafkaBrokers,
      definitions: topicDefinitions({ topic, numPartitions: 2 }),
    });
    const groupId = uniqueName('notifier');
    /** Order ids on partition `partition` of the two. */
    const idsOn = (partition: number, count: number) => {
      const ids: string[] = [];
      while (ids.length < count) {
        const id = randomUUID();
        if (partitionOf(id, 2) === partition) ids.push(id);
      }
      return ids;
    };
    const byPartition = [idsOn(0, 4), idsOn(1, 4)];
    const slowIds = new Set(byPartition.map((ids) => ids[0]));
    const held = gate();
    // The first member's requests for the two slow orders wait; later attempts (the new owner's) pass.
    const receiver = await startWebhookReceiver(secret, async ({ body, attempt }) => {
      if (slowIds.has(String(body.orderId)) && attempt === 1) await held.opened;
      return 200;
    });
    cleanups.push(() => receiver.stop());
    cleanups.push(async () => held.open());
    const producer = await testProducer();
    cleanups.push(() => producer.disconnect());
    const events = byPartition.map((ids) => ids.map((id) => orderCreated(id)));
    await producer.sendTo(topic, ...events.flatMap((onPartition) => onPartition.slice(0, 3).map(recordOf)));
    const env = {
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: secret,
      WEBHOOK_TIMEOUT_MS: '60000',
      NOTIFIER_COMMIT_INTERVAL_MS: '0',
    };

    const first = await startTestNotifier({ table, topic, groupId, env });
    cleanups.push(() => first.stop());
    await waitFor(
      async () => {
        const committed = await committedOffsets(topic, groupId);
        return receiver.accepted.size === 4 && committed[0] === '0' && committed[1] === '0';
      },
      { timeoutMs: 30000, what: 'the fast events delivered, both partitions committed at their slow event' },
    );

    const second = await startTestNotifier({ table, topic, groupId, env });
    cleanups.push(() => second.stop());
    const moved = await waitFor(
      () => {
        const taken = events.findIndex((onPartition) => receiver.accepted.has(onPartition[0].eventId));
        return taken >= 0 ? taken : undefined;
      },
      { timeoutMs: 60000, what: 'the new member to deliver the slow event of the partition it took' },
    );
    const kept = 1 - moved;
    // More work on both partitions: the new owner commits the moved one to its end (4).
    await producer.sendTo(topic, recordOf(events[0][3]), recordOf(events[1][3]));
    await waitFor(async () => (await committedOffsets(topic, groupId))[moved] === '4', {
      timeoutMs: 30000,
      what: 'the new owner to commit the moved partition to its end',
    });

    // Now the old member's requests answer: its events finish, on the kept partition and the moved one.
    held.open();
    await waitFor(async () => (await committedOffsets(topic, groupId))[kept] === '4', {
      timeoutMs: 30000,
      what: 'the old member to commit its kept partition after its slow event finished',
    });
    // Had the old member committed the moved partition too, it would have set it back to 3.
    expect((await committedOffsets(topic, groupId))[moved]).toBe('4');
    for (const event of events.flat()) expect(await notificationsOf(table, event.aggregateId)).toHaveLength(1);
  });

  describe('as a process', () => {
    const processes: ServiceProcess[] = [];
    afterAll(async () => {
      await Promise.all(processes.map((p) => p.kill()));
    });

    test('When an early event is held while later ones on its partition finish, then the committed offset stays at the held event; after a kill and a restart the held and later events are processed again with exactly one effect each', async () => {
      const tables = await createTestTables();
      const topic = await createTestTopic();
      const groupId = uniqueName('notifier');
      const [slow, ...others] = samePartitionIds(6);
      const partition = partitionOf(slow);
      const held = gate();
      const receiver = await startWebhookReceiver(secret, async ({ body, attempt }) => {
        // The first process's request for the slow order never gets an answer it can use.
        if (body.orderId === slow && attempt === 1) {
          await held.opened;
          return 503;
        }
        return 200;
      });
      cleanups.push(() => receiver.stop());
      cleanups.push(async () => held.open());
      const producer = await testProducer();
      cleanups.push(() => producer.disconnect());
      const slowEvent = orderCreated(slow);
      const otherEvents = others.map((id) => orderCreated(id));
      await producer.sendTo(topic, recordOf(slowEvent), ...otherEvents.map(recordOf));
      const { dynamodb, kafkaBrokers } = testEndpoints();
      const env = {
        DYNAMODB_ENDPOINT: dynamodb,
        KAFKA_BROKERS: kafkaBrokers.join(','),
        NOTIFICATIONS_TABLE: tables.notifications,
        ORDER_EVENTS_TOPIC: topic,
        NOTIFIER_GROUP_ID: groupId,
        WEBHOOK_URL: receiver.url,
        WEBHOOK_SECRET: secret,
        WEBHOOK_TIMEOUT_MS: '60000',
        // The killed member leaves the group after this long, letting the next one take its partitions.
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        KAFKA_HEARTBEAT_INTERVAL_MS: '500',
        KAFKA_FETCH_MAX_WAIT_MS: '250',
      };

      const first = await startServiceProcess('notifier', env);
      processes.push(first);
      await waitFor(
        async () =>
          (await Promise.all(others.map((id) => notificationsOf(tables.notifications, id)))).every(
            (n) => n[0]?.deliveryStatus === 'delivered',
          ),
        { timeoutMs: 30000, what: 'the later events delivered' },
      );
      // Committed after the later events finished: never past the held one (offset 0).
      const committed = await waitFor(
        async () => {
          const offset = (await committedOffsets(topic, groupId))[partition];
          return offset !== undefined && offset !== '-1' ? offset : undefined;
        },
        { timeoutMs: 15000, what: 'a commit' },
      );
      expect(committed).toBe('0');
      expect(receiver.open()).toBe(1);
      await first.kill();
      held.open();

      const second = await startServiceProcess('notifier', env);
      processes.push(second);
      await waitFor(() => receiver.accepted.has(slowEvent.eventId), {
        timeoutMs: 30000,
        what: 'the held event delivered by the restarted notifier',
      });
      await waitForCommittedToEnd(topic, groupId);
      for (const event of [slowEvent, ...otherEvents]) {
        expect(await notificationsOf(tables.notifications, event.aggregateId)).toHaveLength(1);
        expect(receiver.accepted.get(event.eventId)).toBe(1);
      }
      const markers = (await scanAll(tables.notifications)).filter((item) => String(item.pk).startsWith('INBOX#'));
      expect(markers).toHaveLength(6);
      // Everything from the held offset on was redelivered; the inbox turned it into no-ops.
      expect(await scrape(second.port, 'notifier_duplicates_skipped_total', { reason: 'event_id' })).toBe(6);
      expect(await second.stop()).toBe(0);
    });
  });
});
