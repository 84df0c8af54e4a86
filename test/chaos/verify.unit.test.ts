import type * as Verifier from '../../bench/chaos/verify.ts' with { 'resolution-mode': 'import' };
import type { History, KafkaEvent } from '../../bench/chaos/verify.ts' with { 'resolution-mode': 'import' };

// bench/ is an ES module package (node runs bench/chaos.ts directly): a CommonJS test loads it with import().
let verifier: typeof Verifier;
beforeAll(async () => {
  verifier = await import('../../bench/chaos/verify.ts');
});
const verifyHistory = (history: History) => verifier.verifyHistory(history);

/** A clean history: order a created, order b created and cancelled, each on the topic and notified once. */
function cleanHistory(): History {
  const kafka: KafkaEvent[] = [
    { partition: 0, offset: '0', key: 'a', eventId: 'a1', eventType: 'OrderCreated', aggregateId: 'a', seq: 1 },
    { partition: 1, offset: '0', key: 'b', eventId: 'b1', eventType: 'OrderCreated', aggregateId: 'b', seq: 1 },
    { partition: 1, offset: '1', key: 'b', eventId: 'b2', eventType: 'OrderCancelled', aggregateId: 'b', seq: 2 },
  ];
  const at = (second: number) => `2026-11-25T10:00:0${second}.000Z`;
  return {
    acknowledged: [
      { orderId: 'a', cancelled: false },
      { orderId: 'b', cancelled: true },
    ],
    kafka,
    notifications: [
      { aggregateId: 'a', seq: 1, eventId: 'a1', eventType: 'OrderCreated', createdAt: at(1) },
      { aggregateId: 'b', seq: 1, eventId: 'b1', eventType: 'OrderCreated', createdAt: at(2) },
      { aggregateId: 'b', seq: 2, eventId: 'b2', eventType: 'OrderCancelled', createdAt: at(3) },
    ],
    inbox: [
      { eventId: 'a1', aggregateId: 'a', seq: 1, processedAt: at(1) },
      { eventId: 'b1', aggregateId: 'b', seq: 1, processedAt: at(2) },
      { eventId: 'b2', aggregateId: 'b', seq: 2, processedAt: at(3) },
    ],
    cursors: [
      { aggregateId: 'a', lastSeq: 1 },
      { aggregateId: 'b', lastSeq: 2 },
    ],
  };
}

const failing = (history: History) =>
  verifyHistory(history)
    .filter((result) => result.violations.length > 0)
    .map((result) => result.name);

describe('chaos verifier', () => {
  test('When the history is clean, even with redelivered records on the topic, then every invariant passes', () => {
    const history = cleanHistory();
    // A relay that lost its lease mid-batch publishes again from the checkpoint: duplicates, never a new lower seq.
    history.kafka.push(
      { partition: 1, offset: '2', key: 'b', eventId: 'b1', eventType: 'OrderCreated', aggregateId: 'b', seq: 1 },
      { partition: 1, offset: '3', key: 'b', eventId: 'b2', eventType: 'OrderCancelled', aggregateId: 'b', seq: 2 },
    );
    const results = verifyHistory(history);
    expect(results.map((result) => [result.violations, result.checked])).toEqual([
      [[], 3],
      [[], 3],
      [[], 3],
      [[], 2],
      [[], 2],
    ]);
    expect(verifier.runFailed([{ name: 'f', injectedAtS: 1, recoveryMs: 500, detail: '' }], results)).toBe(false);
  });

  test('When an acknowledged cancel never reached Kafka, then "none missing" fails for Kafka and names the event', () => {
    const history = cleanHistory();
    history.kafka = history.kafka.filter((record) => record.eventId !== 'b2');
    const result = verifier.checkAcknowledgedInKafka(history);
    expect(result.violations).toEqual(['OrderCancelled of order b (seq 2) is not on the topic']);
    expect(failing(history)).toEqual(['none missing: every acknowledged event is in Kafka']);
  });

  test('When an event on the topic has no notification, then "none missing" fails for notifications', () => {
    const history = cleanHistory();
    history.notifications = history.notifications.filter((n) => n.eventId !== 'a1');
    history.inbox = history.inbox.filter((marker) => marker.eventId !== 'a1');
    history.cursors = history.cursors.filter((cursor) => cursor.aggregateId !== 'a');
    expect(verifier.checkEveryEventNotified(history).violations).toEqual([
      'no notification for OrderCreated a1 (a seq 1)',
    ]);
    expect(failing(history)).toEqual(['none missing: every event in Kafka has its notification']);
  });

  test('When a notification was written again after its inbox marker, then "no double effect" fails', () => {
    const history = cleanHistory();
    history.notifications[0] = { ...history.notifications[0]!, createdAt: '2026-11-25T10:00:09.000Z' };
    expect(verifier.checkNoDoubleEffect(history).violations).toEqual([
      'notification of event a1 was written at 2026-11-25T10:00:09.000Z, its inbox marker at 2026-11-25T10:00:01.000Z: applied more than once',
    ]);
  });

  test('When one event has two notifications or two inbox markers, then "no double effect" fails', () => {
    const history = cleanHistory();
    history.notifications.push({ ...history.notifications[0]! });
    history.inbox.push({ ...history.inbox[1]! });
    expect(verifier.checkNoDoubleEffect(history).violations).toEqual([
      '2 notifications for a#1',
      'event a1 has 2 notifications (seq 1, seq 1)',
      'event b1 has 2 inbox markers',
    ]);
  });

  test('When a new lower seq appears on the topic after a higher one, then "per-aggregate order in Kafka" fails', () => {
    const history = cleanHistory();
    history.kafka = [
      { partition: 1, offset: '0', key: 'b', eventId: 'b2', eventType: 'OrderCancelled', aggregateId: 'b', seq: 2 },
      { partition: 1, offset: '1', key: 'b', eventId: 'b1', eventType: 'OrderCreated', aggregateId: 'b', seq: 1 },
    ];
    expect(verifier.checkKafkaOrder(history).violations).toEqual(['key b: seq 1 first appears at 1/1, after seq 2']);
  });

  test('When offsets compare as numbers, not text, then offset 10 comes after offset 9', () => {
    const history = cleanHistory();
    history.kafka = [
      { partition: 0, offset: '10', key: 'b', eventId: 'b2', eventType: 'OrderCancelled', aggregateId: 'b', seq: 2 },
      { partition: 0, offset: '9', key: 'b', eventId: 'b1', eventType: 'OrderCreated', aggregateId: 'b', seq: 1 },
    ];
    expect(verifier.checkKafkaOrder(history).violations).toEqual([]);
  });

  test('When a key spans two partitions or a seq is reused by another event, then "per-aggregate order in Kafka" fails', () => {
    const history = cleanHistory();
    history.kafka.push(
      { partition: 2, offset: '0', key: 'a', eventId: 'a1', eventType: 'OrderCreated', aggregateId: 'a', seq: 1 },
      { partition: 1, offset: '2', key: 'b', eventId: 'other', eventType: 'OrderCreated', aggregateId: 'b', seq: 1 },
    );
    expect(verifier.checkKafkaOrder(history).violations).toEqual([
      'key a is on partitions 0, 2',
      'key b seq 1 is event b1 and, at offset 2, other',
    ]);
  });

  test('When seq 2 took effect before seq 1, or a seq is skipped, then "per-aggregate order of effects" fails', () => {
    const history = cleanHistory();
    history.notifications[2] = { ...history.notifications[2]!, createdAt: '2026-11-25T10:00:00.000Z' };
    expect(verifier.checkEffectOrder(history).violations).toEqual([
      'b: seq 2 took effect at 2026-11-25T10:00:00.000Z, before seq 1 at 2026-11-25T10:00:02.000Z',
    ]);
    const skipped = cleanHistory();
    skipped.notifications = skipped.notifications.filter((n) => n.eventId !== 'b1');
    skipped.inbox = skipped.inbox.filter((marker) => marker.eventId !== 'b1');
    expect(verifier.checkEffectOrder(skipped).violations).toEqual(['b: notification seq 2 stored where seq 1 belongs']);
  });

  test('When the cursor disagrees with the stored notifications, then "per-aggregate order of effects" fails', () => {
    const history = cleanHistory();
    history.cursors = [{ aggregateId: 'a', lastSeq: 2 }];
    expect(verifier.checkEffectOrder(history).violations).toEqual([
      'a: cursor at 2, highest notification seq 1',
      'b: cursor at none, highest notification seq 2',
    ]);
  });

  test('When a fault never recovered, recovered wrongly, or an invariant failed, then the run fails and the report says which', () => {
    const history = cleanHistory();
    history.kafka = [];
    const results = verifyHistory(history);
    const faults = [{ name: 'Kafka restart', injectedAtS: 12.3, recoveryMs: undefined, detail: 'stop took 1.0 s' }];
    expect(verifier.runFailed(faults, results)).toBe(true);
    expect(verifier.runFailed([], verifyHistory(cleanHistory()))).toBe(false);
    const twoLeaders = [
      { name: 'SIGSTOP', injectedAtS: 1, recoveryMs: 4000, detail: 'relay-2 frozen', problem: 'two lead' },
    ];
    expect(verifier.runFailed(twoLeaders, verifyHistory(cleanHistory()))).toBe(true);
    expect(verifier.formatReport(twoLeaders, [])).toContain('relay-2 frozen; PROBLEM: two lead');
    const report = verifier.formatReport(faults, results);
    expect(report).toMatch(/\| Kafka restart +\| 12\.3 s +\| NOT RECOVERED \|/);
    expect(report).toMatch(/\| none missing: every acknowledged event is in Kafka +\| FAIL +\| 3 +\| 3 +\|/);
    expect(report).toContain('  - OrderCreated of order a (seq 1) is not on the topic');
  });
});
