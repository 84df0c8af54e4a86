import { AppError, OUTBOX_TIME_INDEX_ATTRIBUTES, envelopeSchema, parseEnvelope, toAppError } from '@outbox/shared';
import type { SourceRecord } from '../source/StreamShard';
import type { DeadLetter, OutgoingEvent } from './OutgoingEvent';

/** The attributes of an outbox item that make up the envelope; every other one is not published. */
const ENVELOPE_ATTRIBUTES = new Set(Object.keys(envelopeSchema.shape));
/** Attributes the outbox item has for storage (TTL, the time index's keys): expected, never part of the event. */
const STORAGE_ATTRIBUTES = new Set<string>(['expiresAt', ...OUTBOX_TIME_INDEX_ATTRIBUTES]);

/** What became of one stream record. */
export type RecordDisposition =
  | {
      kind: 'publish';
      event: OutgoingEvent;
      /** Attributes of the item the envelope does not know (and the TTL): left out, not an error. */
      unknownAttributes: string[];
    }
  | { kind: 'ignore'; reason: string }
  | { kind: 'deadLetter'; letter: DeadLetter };

/**
 * Decides what to do with a stream record: INSERTs of valid outbox items are published; MODIFY
 * and REMOVE (TTL deletions among them) are ignored; an item that is not a valid event is
 * dead-lettered rather than blocking its shard.
 *
 * Tolerant reader: the event is the item's envelope attributes; any other attribute (a newer
 * writer's addition, the TTL) is left out of the event, never a reason to dead-letter it. An
 * INSERT without its new image means the stream's view type is wrong: that is a setup error
 * thrown for the shard (which stalls and is reported), not bad input to dead-letter.
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
  if (record.newImage === undefined) {
    throw new AppError(
      'relay.no_new_image',
      `Stream record ${record.sequenceNumber} of shard ${record.shardId} is an INSERT without its new image: the stream's view type must be NEW_IMAGE or NEW_AND_OLD_IMAGES`,
      { retriable: false },
    );
  }
  const item: Record<string, unknown> = {};
  const unknownAttributes: string[] = [];
  for (const [name, value] of Object.entries(record.newImage)) {
    if (ENVELOPE_ATTRIBUTES.has(name)) item[name] = value;
    else if (!STORAGE_ATTRIBUTES.has(name)) unknownAttributes.push(name);
  }
  try {
    const envelope = parseEnvelope(item);
    return {
      kind: 'publish',
      event: { envelope, shardId: record.shardId, sequenceNumber: record.sequenceNumber },
      unknownAttributes,
    };
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
