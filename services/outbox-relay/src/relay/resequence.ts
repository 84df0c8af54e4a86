import type { SourceRecord } from '../source/StreamShard';

/**
 * Puts one batch back in per-aggregate order: INSERTs of outbox items sorted by
 * (aggregateId, seq), a repeated (aggregateId, seq) kept once. The Kinesis destination may
 * reorder and duplicate records; across batches the notifier's `lastSeq` cursor covers the rest.
 * Records that are not outbox INSERTs (ignored or dead-lettered anyway) follow in arrival order.
 */
export function resequence(records: SourceRecord[]): SourceRecord[] {
  const events: { record: SourceRecord; aggregateId: string; seq: number }[] = [];
  const others: SourceRecord[] = [];
  for (const record of records) {
    const aggregateId = record.newImage?.aggregateId;
    const seq = record.newImage?.seq;
    if (
      record.eventName === 'INSERT' &&
      record.unreadable === undefined &&
      typeof aggregateId === 'string' &&
      typeof seq === 'number'
    ) {
      events.push({ record, aggregateId, seq });
    } else {
      others.push(record);
    }
  }
  events.sort((a, b) => (a.aggregateId < b.aggregateId ? -1 : a.aggregateId > b.aggregateId ? 1 : a.seq - b.seq));
  const seen = new Set<string>();
  const unique: SourceRecord[] = [];
  for (const event of events) {
    const key = `${event.aggregateId}\u0000${event.seq}`;
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(event.record);
  }
  return [...unique, ...others];
}
