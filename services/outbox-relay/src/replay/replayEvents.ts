import type { Logger } from '@outbox/shared';
import type { BackfillSource, BackfillWindow } from '../backfill/OutboxBackfill';
import type { OutgoingEvent } from '../relay/OutgoingEvent';
import { toOutgoing } from '../relay/toOutgoing';

/** What a replay needs from a publisher: resolve only once Kafka acknowledged everything. */
export interface ReplayPublisher {
  publishBatch(events: OutgoingEvent[], letters: []): Promise<void>;
  /** The most bytes one record may take. */
  readonly maxRecordBytes: number;
  recordBytes(event: OutgoingEvent): number;
}

/** Options for {@link replayEvents}. */
export interface ReplayOptions {
  /** Reads the outbox table (the relay's backfill path: bounded memory, per-aggregate order). */
  source: BackfillSource;
  /** Publishes to the target topic; never the relay's transactional producer. */
  publisher: ReplayPublisher;
  /** The target topic, for the report. */
  topic: string;
  window: BackfillWindow;
  /** Report only; publish nothing. */
  dryRun: boolean;
  /** Events per Kafka batch. */
  batchSize: number;
  logger: Logger;
}

/** What a replay sent (or, dry, would send). */
export interface ReplayReport {
  topic: string;
  dryRun: boolean;
  from: string;
  to?: string;
  aggregateId?: string;
  /** Events published (dry run: that would be). */
  events: number;
  byEventType: Record<string, number>;
  /** Oldest and newest `occurredAt` among them. */
  oldestOccurredAt?: string;
  newestOccurredAt?: string;
  /** Items that are not valid events (the relay dead-lettered them when it first met them), by code. */
  skipped: Record<string, number>;
  /** When `aggregateId` is given: the seqs sent, in order. */
  seqs?: number[];
}

/**
 * Re-publishes the outbox events of a time window (optionally one aggregate) from the OrderOutbox
 * table, through the same bounded-memory path as the relay's backfill, in per-aggregate `seq`
 * order, with `source-shard: replay`. It touches no lease and no checkpoint: the live relay goes
 * on where it was, and consumers drop the repeats through their per-aggregate cursor.
 */
export async function replayEvents(options: ReplayOptions): Promise<ReplayReport> {
  const { source, publisher, window, dryRun, batchSize, logger } = options;
  const report: ReplayReport = {
    topic: options.topic,
    dryRun,
    from: new Date(window.fromMs ?? 0).toISOString(),
    ...(window.toMs === undefined ? {} : { to: new Date(window.toMs).toISOString() }),
    ...(window.aggregateId === undefined ? {} : { aggregateId: window.aggregateId, seqs: [] }),
    events: 0,
    byEventType: {},
    skipped: {},
  };
  let pending: OutgoingEvent[] = [];
  const flush = async () => {
    if (!dryRun && pending.length > 0) await publisher.publishBatch(pending, []);
    pending = [];
  };
  for await (const page of source.read(window)) {
    for (const record of page) {
      const disposition = toOutgoing({ ...record, shardId: 'replay' });
      if (disposition.kind !== 'publish') {
        const code = disposition.kind === 'deadLetter' ? disposition.letter.errorCode : disposition.reason;
        report.skipped[code] = (report.skipped[code] ?? 0) + 1;
        continue;
      }
      const { event } = disposition;
      if (publisher.recordBytes(event) > publisher.maxRecordBytes) {
        report.skipped.too_large = (report.skipped.too_large ?? 0) + 1;
        continue;
      }
      count(report, event);
      pending.push(event);
      if (pending.length >= batchSize) await flush();
    }
  }
  await flush();
  logger.info({ topic: report.topic, events: report.events, dryRun }, 'replay finished');
  return report;
}

function count(report: ReplayReport, event: OutgoingEvent): void {
  const { envelope } = event;
  report.events += 1;
  report.byEventType[envelope.eventType] = (report.byEventType[envelope.eventType] ?? 0) + 1;
  const at = Date.parse(envelope.occurredAt);
  if (report.oldestOccurredAt === undefined || at < Date.parse(report.oldestOccurredAt))
    report.oldestOccurredAt = envelope.occurredAt;
  if (report.newestOccurredAt === undefined || at > Date.parse(report.newestOccurredAt))
    report.newestOccurredAt = envelope.occurredAt;
  report.seqs?.push(envelope.seq);
}
