import { createTestTables, createTestTopic, readTopic, uniqueName, waitFor } from '@outbox/testkit';
import {
  deadLetterTopicFor,
  metricValue,
  notificationsOf,
  orderCancelled,
  orderCreated,
  recordOf,
  samePartitionIds,
  startTestNotifier,
  testProducer,
  waitForCommittedToEnd,
} from './support/notifierTestKit';

describe('held (gap) events are bounded per partition', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  test.each([
    ['count', (): Record<string, string> => ({ NOTIFIER_HELD_MAX_EVENTS: '2' })],
    ['bytes', (): Record<string, string> => ({ NOTIFIER_HELD_MAX_BYTES: '1024' })],
  ])(
    'When held events reach the cap by %s, then the partition pauses with no more held, and resumes (in order) once the gap timeout releases them, each dead-lettered as gap',
    async (_, capEnv) => {
      const { notifications: table } = await createTestTables();
      const topic = await createTestTopic();
      const groupId = uniqueName('notifier');
      const [a, b, c, d] = samePartitionIds(4);
      // Three orphans (seq 2 without seq 1), then a good event, all on one partition.
      const orphans = [a, b, c].map((id) => orderCancelled(id, 2));
      const good = orderCreated(d);
      const records = [...orphans.map(recordOf), recordOf(good)];
      const size = (r: { key: string; value: string }) => Buffer.byteLength(r.key) + Buffer.byteLength(r.value);
      // Both caps allow two orphans and not three.
      expect(size(records[0]) + size(records[1])).toBeLessThanOrEqual(1024);
      expect(size(records[0]) + size(records[1]) + size(records[2])).toBeGreaterThan(1024);
      const producer = await testProducer();
      cleanups.push(() => producer.disconnect());
      await producer.sendTo(topic, ...records);
      const dlq = await readTopic(deadLetterTopicFor(topic));
      cleanups.push(() => dlq.stop());

      let maxHeld = 0;
      const notifier = await startTestNotifier({
        table,
        topic,
        groupId,
        env: { NOTIFIER_GAP_TIMEOUT_MS: '2000', ...capEnv() },
      });
      cleanups.push(() => notifier.stop());
      await waitFor(
        async () => {
          maxHeld = Math.max(maxHeld, notifier.heldCount());
          return (await notificationsOf(table, d)).length === 1;
        },
        { timeoutMs: 30000, intervalMs: 20, what: 'the good event behind the orphans' },
      );
      const letters = await dlq.waitForCount(3, 30000);
      await waitForCommittedToEnd(topic, groupId);

      expect(maxHeld).toBeLessThanOrEqual(2);
      expect(letters.map((l) => l.headers['dead-letter-reason'])).toEqual(['gap', 'gap', 'gap']);
      // The first two orphans ran concurrently (different keys), so their letters come in either
      // order; the third was taken only once the cap released them.
      expect(
        letters
          .slice(0, 2)
          .map((l) => l.headers['event-id'])
          .sort(),
      ).toEqual(
        orphans
          .slice(0, 2)
          .map((o) => o.eventId)
          .sort(),
      );
      expect(letters[2].headers['event-id']).toBe(orphans[2].eventId);
      // The good event was read only after the cap released: after the first two orphans were dead-lettered.
      const [stored] = await notificationsOf(table, d);
      expect(Date.parse(String(stored.createdAt))).toBeGreaterThanOrEqual(
        Date.parse(letters[1].headers['dead-lettered-at']),
      );
      expect(notifier.heldCount()).toBe(0);
      expect(await metricValue(notifier.registry, 'notifier_dead_letters_total', { reason: 'gap' })).toBe(3);
    },
  );
});
