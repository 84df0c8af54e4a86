import { parseEnvelope, toAppError } from '@outbox/shared';
import type { SourceRecord } from '../source/StreamShard';
import type { DeadLetter, OutgoingEvent } from '../publish/KafkaPublisher';

/** What became of one stream record. */
export type RecordDisposition =
  | { kind: 'publish'; event: OutgoingEvent }
  | { kind: 'ignore'; reason: string }
  | { kind: 'deadLetter'; letter: DeadLetter };

/**
 * Decides what to do with a stream record: INSERTs of valid outbox items are published; MODIFY
 * and REMOVE (TTL deletions among them) are ignored; an item that is not a valid event is
 * dead-lettered rather than blocking its shard.
 */
export function toOutgoing(record: SourceRecord): RecordDisposition {
  if (record.unreadable !== undefined) {
    return {
      kind: 'deadLetter',
      letter: {
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        errorCode: 'event.unreadable_record',
        errorMessage: record.unreadable,
        item: record.raw ?? null,
      },
    };
  }
  if (record.eventName !== 'INSERT') return { kind: 'ignore', reason: record.eventName };
  // Storage attributes (TTL, the time index's keys) are not part of the event.
  const { expiresAt: _ttl, gsi1pk: _hour, gsi1sk: _order, ...item } = record.newImage ?? {};
  try {
    const envelope = parseEnvelope(item);
    return { kind: 'publish', event: { envelope, shardId: record.shardId, sequenceNumber: record.sequenceNumber } };
  } catch (error) {
    const appError = toAppError(error);
    return {
      kind: 'deadLetter',
      letter: {
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        errorCode: appError.code,
        errorMessage: appError.message,
        item: record.newImage ?? null,
        key: typeof item.aggregateId === 'string' ? item.aggregateId : undefined,
      },
    };
  }
}
