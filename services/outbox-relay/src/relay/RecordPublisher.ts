import type { Logger } from '@outbox/shared';
import { LeaseLostError, type LeaderLease } from '../lease/LeaderLease';
import type { SourceRecord } from '../source/StreamShard';
import type { DeadLetter, OutgoingEvent } from './OutgoingEvent';
import type { RelayMetrics } from './relayMetrics';
import { toOutgoing } from './toOutgoing';

/** What the relay needs from a publisher: resolve only once Kafka acknowledged everything. */
export interface BatchPublisher {
  publishBatch(events: OutgoingEvent[], letters: DeadLetter[]): Promise<void>;
  /** The bytes an event takes in a request. */
  recordBytes(event: OutgoingEvent): number;
  /** The most bytes one record may take; a larger event is dead-lettered as `too_large`. */
  readonly maxRecordBytes: number;
}

/** Options for {@link RecordPublisher}. */
export interface RecordPublisherOptions {
  publisher: BatchPublisher;
  lease: Pick<LeaderLease, 'isLeader'>;
  metrics: RelayMetrics;
  logger: Logger;
  /** Wall clock for lag (ms since epoch). */
  now: () => number;
  /**
   * Waits while the lease is lapsed but not lost (a pause held the event loop past its validity;
   * the next renewal tells), so a long backfill is not started over for a lapse nobody used.
   */
  untilValid?: () => Promise<void>;
}

/** What one batch of records became. */
export interface PublishedBatch {
  events: OutgoingEvent[];
  letters: DeadLetter[];
}

/**
 * Turns source records into events and dead letters, publishes them while this instance still
 * leads, and counts the outcome. Shared by the stream loop and the backfill, so both publish and
 * count the same way.
 */
export class RecordPublisher {
  private readonly options: RecordPublisherOptions;
  /** When Kafka last acknowledged a batch (ms since epoch): progress, also during a long backfill. */
  lastPublishedAt = 0;
  /** Unknown outbox attributes already logged (once each). */
  private readonly unknownSeen = new Set<string>();

  constructor(options: RecordPublisherOptions) {
    this.options = options;
  }

  /** Sorts records into events, dead letters and ignored records (counted). */
  dispose(records: SourceRecord[]): PublishedBatch {
    const { metrics } = this.options;
    const events: OutgoingEvent[] = [];
    const letters: DeadLetter[] = [];
    for (const record of records) {
      metrics.recordsRead.inc({ event_name: record.eventName });
      const disposition = toOutgoing(record);
      if (disposition.kind === 'publish') {
        this.noteUnknown(disposition.unknownAttributes);
        const letter = this.tooLarge(disposition.event);
        if (letter) letters.push(letter);
        else events.push(disposition.event);
      } else if (disposition.kind === 'deadLetter') letters.push(disposition.letter);
      else metrics.recordsIgnored.inc({ event_name: disposition.reason });
    }
    return { events, letters };
  }

  private noteUnknown(attributes: string[]): void {
    for (const name of attributes) {
      if (this.unknownSeen.has(name) || this.unknownSeen.size >= 100) continue;
      this.unknownSeen.add(name);
      this.options.logger.info(
        { attribute: name },
        'outbox items carry an attribute the event envelope does not know; it is left out of the published event',
      );
    }
  }

  /**
   * An event no request can carry would be refused forever: it goes to the dead-letter topic
   * with reason `too_large` (its envelope without the payload) and the shard moves on.
   */
  private tooLarge(event: OutgoingEvent): DeadLetter | undefined {
    const { publisher } = this.options;
    const bytes = publisher.recordBytes(event);
    if (bytes <= publisher.maxRecordBytes) return undefined;
    const { payload: _payload, ...envelope } = event.envelope;
    return {
      shardId: event.shardId,
      sequenceNumber: event.sequenceNumber,
      errorCode: 'too_large',
      errorMessage: `The event takes ${bytes} bytes; one Kafka request may carry at most ${publisher.maxRecordBytes}`,
      item: { ...envelope, payloadOmitted: true },
      key: envelope.aggregateId,
    };
  }

  /**
   * Publishes what `dispose` made of the records; resolves once Kafka acknowledged all of it.
   * Throws {@link LeaseLostError} before publishing once the lease could lapse.
   */
  async publish(shardId: string, batch: PublishedBatch, why: string): Promise<void> {
    const { publisher, metrics, lease } = this.options;
    await this.options.untilValid?.();
    // Stop publishing once the lease could lapse: a standby may be about to take over.
    if (!lease.isLeader()) throw new LeaseLostError(`lease validity ran out before publishing (${why})`);
    const endTimer = metrics.publishDuration.startTimer();
    await publisher.publishBatch(batch.events, batch.letters);
    endTimer();
    this.lastPublishedAt = this.options.now();
    this.count(shardId, batch);
  }

  private count(shardId: string, { events, letters }: PublishedBatch): void {
    const { metrics, logger } = this.options;
    for (const event of events) metrics.recordsPublished.inc({ event_type: event.envelope.eventType });
    for (const letter of letters) {
      metrics.recordsDeadLettered.inc({ reason: letter.errorCode });
      logger.warn({ shardId, sequenceNumber: letter.sequenceNumber, code: letter.errorCode }, 'record dead-lettered');
    }
  }
}

/** The later of `current` and every event's `occurredAt`. */
export function maxOccurredAt(current: string | undefined, events: OutgoingEvent[]): string | undefined {
  let newest = current;
  for (const event of events) {
    const at = event.envelope.occurredAt;
    if (newest === undefined || Date.parse(at) > Date.parse(newest)) newest = at;
  }
  return newest;
}
