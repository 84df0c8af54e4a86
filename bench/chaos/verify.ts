/**
 * The chaos run's invariants, as pure functions over what an independent reader saw: the
 * orders the API acknowledged, every record of the topic (read from the beginning by a consumer
 * of its own) and every item of the Notifications table (a full scan). No I/O here, so each
 * invariant is unit-tested on crafted histories (`test/chaos/verify.unit.test.ts`).
 */

/** An order the API answered 201 for, and whether a later cancel was answered 200. */
export interface AcknowledgedOrder {
  orderId: string;
  cancelled: boolean;
}

/** One record of the order events topic, as read from Kafka. */
export interface KafkaEvent {
  partition: number;
  /** Kafka offsets are 64-bit: kept as the decimal string kafkajs gives. */
  offset: string;
  key: string | null;
  eventId: string;
  eventType: string;
  aggregateId: string;
  seq: number;
  /** The record's Kafka timestamp (the producer's clock at send: the relay's), ms since the epoch. */
  timestamp?: number;
  /** The envelope's `occurredAt` (order-api's clock, before its transaction). */
  occurredAt?: string;
}

/** A notification item (`AGGREGATE#<id>` / `NOTIFICATION#<seq>`): the notifier's effect. */
export interface StoredNotification {
  aggregateId: string;
  seq: number;
  eventId: string;
  eventType: string;
  createdAt: string;
}

/** An inbox marker (`INBOX#<eventId>`), written in the same transaction as its notification. */
export interface InboxMarker {
  eventId: string;
  aggregateId: string;
  seq: number;
  processedAt: string;
}

/** An aggregate's cursor (`AGGREGATE#<id>` / `CURSOR`): the highest seq whose effect is stored. */
export interface AggregateCursor {
  aggregateId: string;
  lastSeq: number;
}

/** Everything the verifier reads. */
export interface History {
  acknowledged: AcknowledgedOrder[];
  kafka: KafkaEvent[];
  notifications: StoredNotification[];
  inbox: InboxMarker[];
  cursors: AggregateCursor[];
}

/** One invariant's verdict: how many things it checked and every violation, described. */
export interface InvariantResult {
  name: string;
  checked: number;
  violations: string[];
}

/** Most violations listed per invariant; the count stays exact. */
const MAX_LISTED = 20;

function result(name: string, checked: number, violations: string[]): InvariantResult {
  return { name, checked, violations };
}

const eventKey = (aggregateId: string, seq: number) => `${aggregateId}#${seq}`;

function compareOffsets(a: KafkaEvent, b: KafkaEvent): number {
  if (a.partition !== b.partition) return a.partition - b.partition;
  const left = BigInt(a.offset);
  const right = BigInt(b.offset);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** The events each acknowledged order must have: OrderCreated at seq 1, OrderCancelled at seq 2 when cancelled. */
function expectedEvents(order: AcknowledgedOrder): { seq: number; eventType: string }[] {
  return order.cancelled
    ? [
        { seq: 1, eventType: 'OrderCreated' },
        { seq: 2, eventType: 'OrderCancelled' },
      ]
    : [{ seq: 1, eventType: 'OrderCreated' }];
}

/**
 * None missing, first half: every order the API acknowledged has its OrderCreated event on the
 * topic, and its OrderCancelled event when the cancel was acknowledged.
 */
export function checkAcknowledgedInKafka(history: Pick<History, 'acknowledged' | 'kafka'>): InvariantResult {
  const onTopic = new Map<string, string>();
  for (const record of history.kafka) onTopic.set(eventKey(record.aggregateId, record.seq), record.eventType);
  const violations: string[] = [];
  let checked = 0;
  for (const order of history.acknowledged) {
    for (const { seq, eventType } of expectedEvents(order)) {
      checked++;
      const found = onTopic.get(eventKey(order.orderId, seq));
      if (found === undefined)
        violations.push(`${eventType} of order ${order.orderId} (seq ${seq}) is not on the topic`);
      else if (found !== eventType)
        violations.push(`order ${order.orderId} seq ${seq} is ${found} on the topic, expected ${eventType}`);
    }
  }
  return result('none missing: every acknowledged event is in Kafka', checked, violations);
}

/**
 * None missing, second half: every event on the topic (so every acknowledged one) has its
 * notification stored, under its own (aggregate, seq) and carrying its own event id.
 */
export function checkEveryEventNotified(history: Pick<History, 'kafka' | 'notifications'>): InvariantResult {
  const stored = new Map<string, StoredNotification>();
  for (const notification of history.notifications)
    stored.set(eventKey(notification.aggregateId, notification.seq), notification);
  const events = new Map<string, KafkaEvent>();
  for (const record of history.kafka) if (!events.has(record.eventId)) events.set(record.eventId, record);
  const violations: string[] = [];
  for (const event of events.values()) {
    const notification = stored.get(eventKey(event.aggregateId, event.seq));
    if (!notification)
      violations.push(
        `no notification for ${event.eventType} ${event.eventId} (${event.aggregateId} seq ${event.seq})`,
      );
    else if (notification.eventId !== event.eventId)
      violations.push(
        `notification of ${event.aggregateId} seq ${event.seq} carries event ${notification.eventId}, the topic has ${event.eventId}`,
      );
  }
  return result('none missing: every event in Kafka has its notification', events.size, violations);
}

/**
 * No double effect: one notification per (aggregate, seq) and per event id, one inbox marker per
 * event id, and each notification written by the same transaction as its event's marker (same
 * timestamp): an effect applied a second time would leave a notification younger than its marker,
 * or a second notification for the same event.
 */
export function checkNoDoubleEffect(history: Pick<History, 'notifications' | 'inbox'>): InvariantResult {
  const violations: string[] = [];
  const bySlot = new Map<string, number>();
  const byEvent = new Map<string, StoredNotification[]>();
  for (const notification of history.notifications) {
    const slot = eventKey(notification.aggregateId, notification.seq);
    bySlot.set(slot, (bySlot.get(slot) ?? 0) + 1);
    byEvent.set(notification.eventId, [...(byEvent.get(notification.eventId) ?? []), notification]);
  }
  for (const [slot, count] of bySlot) if (count > 1) violations.push(`${count} notifications for ${slot}`);
  for (const [eventId, notifications] of byEvent)
    if (notifications.length > 1)
      violations.push(
        `event ${eventId} has ${notifications.length} notifications (${notifications.map((n) => `seq ${n.seq}`).join(', ')})`,
      );
  const markers = new Map<string, InboxMarker[]>();
  for (const marker of history.inbox) markers.set(marker.eventId, [...(markers.get(marker.eventId) ?? []), marker]);
  for (const [eventId, list] of markers)
    if (list.length > 1) violations.push(`event ${eventId} has ${list.length} inbox markers`);
  for (const [eventId, [notification]] of byEvent) {
    const marker = markers.get(eventId)?.[0];
    if (!notification) continue;
    if (!marker) violations.push(`notification of event ${eventId} has no inbox marker`);
    else if (marker.aggregateId !== notification.aggregateId || marker.seq !== notification.seq)
      violations.push(
        `inbox marker of event ${eventId} is for ${marker.aggregateId} seq ${marker.seq}, its notification for ${notification.aggregateId} seq ${notification.seq}`,
      );
    else if (marker.processedAt !== notification.createdAt)
      violations.push(
        `notification of event ${eventId} was written at ${notification.createdAt}, its inbox marker at ${marker.processedAt}: applied more than once`,
      );
  }
  for (const eventId of markers.keys())
    if (!byEvent.has(eventId)) violations.push(`inbox marker of event ${eventId} has no notification`);
  return result('no double effect: one notification per event id and per (aggregate, seq)', byEvent.size, violations);
}

/**
 * Per-aggregate order in Kafka: every record of a key is on one partition, and in offset order a
 * seq seen for the first time is above every seq seen before for that key. Redeliveries (a seq
 * seen before, same event id) may come later; a new lower seq after a higher one may not.
 */
export function checkKafkaOrder(history: Pick<History, 'kafka'>): InvariantResult {
  const violations: string[] = [];
  const byKey = new Map<string, KafkaEvent[]>();
  for (const record of history.kafka) {
    const key = record.key ?? '(no key)';
    byKey.set(key, [...(byKey.get(key) ?? []), record]);
  }
  for (const [key, records] of byKey) {
    if (records.some((record) => record.key !== record.aggregateId))
      violations.push(`key ${key} carries events of another aggregate`);
    const partitions = new Set(records.map((record) => record.partition));
    if (partitions.size > 1) violations.push(`key ${key} is on partitions ${[...partitions].join(', ')}`);
    const seen = new Map<number, string>();
    let highest = 0;
    for (const record of [...records].sort(compareOffsets)) {
      const before = seen.get(record.seq);
      if (before !== undefined) {
        if (before !== record.eventId)
          violations.push(
            `key ${key} seq ${record.seq} is event ${before} and, at offset ${record.offset}, ${record.eventId}`,
          );
        continue;
      }
      if (record.seq <= highest)
        violations.push(
          `key ${key}: seq ${record.seq} first appears at ${record.partition}/${record.offset}, after seq ${highest}`,
        );
      seen.set(record.seq, record.eventId);
      highest = Math.max(highest, record.seq);
    }
  }
  return result('per-aggregate order in Kafka: no new lower seq after a higher one', byKey.size, violations);
}

/**
 * Per-aggregate order of effects: each aggregate's notifications are seq 1..n without a hole,
 * written in seq order (non-decreasing `createdAt`), and its cursor stands at n.
 */
export function checkEffectOrder(history: Pick<History, 'notifications' | 'cursors'>): InvariantResult {
  const violations: string[] = [];
  const byAggregate = new Map<string, StoredNotification[]>();
  for (const notification of history.notifications)
    byAggregate.set(notification.aggregateId, [...(byAggregate.get(notification.aggregateId) ?? []), notification]);
  const cursors = new Map(history.cursors.map((cursor) => [cursor.aggregateId, cursor.lastSeq]));
  for (const [aggregateId, list] of byAggregate) {
    const sorted = [...list].sort((a, b) => a.seq - b.seq);
    sorted.forEach((notification, index) => {
      if (notification.seq !== index + 1 && sorted[index - 1]?.seq !== notification.seq)
        violations.push(`${aggregateId}: notification seq ${notification.seq} stored where seq ${index + 1} belongs`);
      const previous = sorted[index - 1];
      if (previous && Date.parse(previous.createdAt) > Date.parse(notification.createdAt))
        violations.push(
          `${aggregateId}: seq ${notification.seq} took effect at ${notification.createdAt}, before seq ${previous.seq} at ${previous.createdAt}`,
        );
    });
    const top = sorted[sorted.length - 1]?.seq;
    if (cursors.get(aggregateId) !== top)
      violations.push(
        `${aggregateId}: cursor at ${cursors.get(aggregateId) ?? 'none'}, highest notification seq ${top}`,
      );
  }
  for (const [aggregateId, lastSeq] of cursors)
    if (!byAggregate.has(aggregateId)) violations.push(`${aggregateId}: cursor at ${lastSeq} but no notification`);
  return result('per-aggregate order of effects: seq 1..n in order, cursor at n', byAggregate.size, violations);
}

/** Every invariant, in the order the report prints them. */
export function verifyHistory(history: History): InvariantResult[] {
  return [
    checkAcknowledgedInKafka(history),
    checkEveryEventNotified(history),
    checkNoDoubleEffect(history),
    checkKafkaOrder(history),
    checkEffectOrder(history),
  ];
}

/** A fault the run injected and how long the system took to deliver again. */
export interface FaultRecord {
  name: string;
  /** Seconds since the load started. */
  injectedAtS: number;
  /** Fault injected → the first order placed after it had its notification stored; undefined if it never did. */
  recoveryMs: number | undefined;
  detail: string;
  /** Set when the system came back but not as it should (say, two relays still lead): fails the run. */
  problem?: string;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** The printed report: faults (when, recovery), then invariants (pass/fail, counts), then listed violations. */
export function formatReport(faults: FaultRecord[], invariants: InvariantResult[]): string {
  const faultRows = faults.map((fault) => [
    fault.name,
    `${fault.injectedAtS.toFixed(1)} s`,
    fault.recoveryMs === undefined ? 'NOT RECOVERED' : `${(fault.recoveryMs / 1000).toFixed(1)} s`,
    fault.problem === undefined ? fault.detail : `${fault.detail}; PROBLEM: ${fault.problem}`,
  ]);
  const invariantRows = invariants.map((invariant) => [
    invariant.name,
    invariant.violations.length === 0 ? 'pass' : 'FAIL',
    String(invariant.checked),
    String(invariant.violations.length),
  ]);
  const listed = invariants.flatMap((invariant) =>
    invariant.violations.length === 0
      ? []
      : [
          `${invariant.name}:`,
          ...invariant.violations.slice(0, MAX_LISTED).map((violation) => `  - ${violation}`),
          ...(invariant.violations.length > MAX_LISTED
            ? [`  … and ${invariant.violations.length - MAX_LISTED} more`]
            : []),
        ],
  );
  return [
    table(['fault', 'injected at', 'recovery', 'detail'], faultRows),
    '',
    table(['invariant', 'result', 'checked', 'violations'], invariantRows),
    ...(listed.length > 0 ? ['', ...listed] : []),
    '',
  ].join('\n');
}

/** True when the run must exit non-zero: a violated invariant, or a fault the system did not (properly) recover from. */
export function runFailed(faults: FaultRecord[], invariants: InvariantResult[]): boolean {
  return (
    invariants.some((invariant) => invariant.violations.length > 0) ||
    faults.some((fault) => fault.recoveryMs === undefined || fault.problem !== undefined)
  );
}
