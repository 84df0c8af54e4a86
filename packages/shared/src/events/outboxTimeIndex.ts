/**
 * The OrderOutbox table's sparse time index (`byHour`, KEYS_ONLY; see
 * copilot/order-api/addons/orders-tables.yml and docs/adr/outbox-relay-backfill-by-time-index.md).
 * The order-api writes the two attributes on every outbox item; the relay's backfill and replay
 * query the index hour by hour, which reads each aggregate's events in `seq` order with memory
 * bounded by one page, whatever the table's size.
 */

/** Name of the index. */
export const OUTBOX_TIME_INDEX = 'byHour';

/**
 * Partitions per hour, so one busy hour is not one hot index key. An aggregate always lands in
 * the same one (a hash of its id). Changing it strands the items written before: do not.
 */
export const OUTBOX_TIME_INDEX_PARTITIONS = 8;

const HOUR_MS = 3_600_000;

/** The index attributes of one outbox item. */
export interface OutboxTimeIndexKeys {
  /** `HOUR#<yyyy-mm-ddThh>#<partition>`. */
  gsi1pk: string;
  /** `<aggregateId>#<seq, 10 digits>`: an hour's items sort by aggregate, then seq. */
  gsi1sk: string;
}

/** Names of the index attributes: storage only, never part of the event envelope. */
export const OUTBOX_TIME_INDEX_ATTRIBUTES = ['gsi1pk', 'gsi1sk'] as const;

/** Start of the UTC hour that holds `ms`. */
export function hourStart(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/** The hour after `hourMs`. */
export function nextHour(hourMs: number): number {
  return hourMs + HOUR_MS;
}

/** The index keys of every partition of the hour that starts at `hourMs`. */
export function outboxTimeIndexPartitionKeys(hourMs: number): string[] {
  const hour = new Date(hourStart(hourMs)).toISOString().slice(0, 13);
  return Array.from({ length: OUTBOX_TIME_INDEX_PARTITIONS }, (_, n) => `HOUR#${hour}#${n}`);
}

/**
 * The index attributes of an outbox event. The hour is that of `occurredAt`, but never earlier
 * than `notBeforeAt` (the aggregate's previous event): an aggregate's hours never go backwards
 * in `seq`, so reading the hours in order reads each aggregate in `seq` order whatever the
 * writers' clocks did.
 */
export function outboxTimeIndexKeys(
  event: { aggregateId: string; seq: number; occurredAt: string },
  notBeforeAt?: string,
): OutboxTimeIndexKeys {
  const at = Date.parse(event.occurredAt);
  const floor = notBeforeAt === undefined ? NaN : Date.parse(notBeforeAt);
  const hourMs = hourStart(Number.isNaN(floor) ? at : Math.max(at, floor));
  const partition = fnv1a(event.aggregateId) % OUTBOX_TIME_INDEX_PARTITIONS;
  const keys = outboxTimeIndexPartitionKeys(hourMs);
  return { gsi1pk: keys[partition] as string, gsi1sk: `${event.aggregateId}#${String(event.seq).padStart(10, '0')}` };
}

/** 32-bit FNV-1a over the UTF-16 code units: stable forever, which the partitioning needs. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
