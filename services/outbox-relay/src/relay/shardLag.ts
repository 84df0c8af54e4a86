import type { SourceRecord } from '../source/StreamShard';

/** What the lag of one shard is computed from (kept in its `ShardState`). */
export interface ShardLagState {
  /** Creation time (ms since epoch) of the oldest record read but not yet acknowledged by Kafka. */
  pendingSinceMs?: number;
  /**
   * Creation time of the newest record Kafka acknowledged since the last read at the tip: the
   * records after it are not read yet, so the shard is at most this far behind.
   */
  ackedUpToMs?: number;
  /** True once a read at the shard's tip returned nothing new (and nothing was read since). */
  atTip?: boolean;
}

/**
 * The shard's lag in ms at `now`, or `undefined` before anything was learnt about it: now minus
 * the creation time of the oldest pending record; 0 only after a read at the tip returned nothing
 * new; in between (a batch acknowledged, the next read not yet answered) now minus the newest
 * acknowledged record's creation time, an upper bound that keeps growing while reads fail.
 */
export function shardLagMs(state: ShardLagState, now: number): number | undefined {
  const since = state.pendingSinceMs ?? (state.atTip ? now : state.ackedUpToMs);
  return since === undefined ? undefined : Math.max(0, now - since);
}

/**
 * When a record was created: the older of the stream's server-side time and the event's own
 * `occurredAt` (a writer stamps it before its transaction commits), or `undefined` when neither
 * is known (an unreadable record).
 */
export function creationTimeMs(record: SourceRecord): number | undefined {
  const occurredAt = record.newImage?.occurredAt;
  const parsed = typeof occurredAt === 'string' ? Date.parse(occurredAt) : NaN;
  const times = [record.serverTimeMs, Number.isNaN(parsed) ? undefined : parsed].filter(
    (time): time is number => time !== undefined,
  );
  return times.length === 0 ? undefined : Math.min(...times);
}

/** The oldest and newest creation time of `records` (unknown times count as `fallback`). */
export function creationTimeRange(records: SourceRecord[], fallback: number): { oldest: number; newest: number } {
  let oldest = Infinity;
  let newest = -Infinity;
  for (const record of records) {
    const time = creationTimeMs(record) ?? fallback;
    oldest = Math.min(oldest, time);
    newest = Math.max(newest, time);
  }
  return { oldest, newest };
}
