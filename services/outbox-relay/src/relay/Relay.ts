import { AppError, type Logger } from '@outbox/shared';
import type { Checkpoints, ShardCheckpoint } from '../checkpoint/CheckpointStore';
import { LeaseLostError, type LeaderLease } from '../lease/LeaderLease';
import type { BackfillSource } from '../backfill/OutboxBackfill';
import type { ChangeSource, ShardStart, SourceRecord, StreamShard } from '../source/StreamShard';
import { isSourceError } from '../source/SourceError';
import { isDrained, planShards } from '../source/ShardLineage';
import type { DeadLetter, OutgoingEvent } from '../publish/KafkaPublisher';
import type { RelayMetrics } from './relayMetrics';
import { toOutgoing } from './toOutgoing';
import { resequence } from './resequence';
import { nextFailureDelay, nextIdleDelay, type BackoffOptions } from './backoff';

/** What the relay needs from a publisher: resolve only once Kafka acknowledged everything. */
export interface BatchPublisher {
  publishBatch(events: OutgoingEvent[], letters: DeadLetter[]): Promise<void>;
}

/** Options for {@link Relay}. */
export interface RelayOptions {
  /**
   * The ARN of the stream to read now (the table's latest stream), or `undefined` while the
   * table has none (the relay keeps reading the one it has); checked at every shard refresh.
   */
  resolveStreamArn: () => Promise<string | undefined>;
  /** A reader for a stream ARN. */
  sourceFor: (streamArn: string) => ChangeSource;
  checkpoints: Checkpoints;
  /** Where events the stream lost are re-read from (the outbox table). */
  backfill: BackfillSource;
  publisher: BatchPublisher;
  /** Only the lease holder reads, publishes and checkpoints. */
  lease: Pick<LeaderLease, 'isLeader' | 'term' | 'fenced'>;
  metrics: RelayMetrics;
  logger: Logger;
  batchSize: number;
  /** Longest pause when every shard is idle. */
  pollIdleMaxMs: number;
  /** Backoff after a failed round (Kafka or DynamoDB away); the checkpoint stays where it was. */
  failureBackoff?: BackoffOptions;
  /** How often the shard list (and the table's stream) is refreshed. */
  shardRefreshMs?: number;
  /**
   * A backfill starts this long before the newest event known to be published, because
   * `occurredAt` is stamped before commit and writers' clocks differ (default 5 minutes).
   */
  backfillOverlapMs?: number;
  /** Wall clock for lag and refresh timing (ms since epoch). */
  now?: () => number;
}

interface ShardState {
  shard: StreamShard;
  checkpoint: ShardCheckpoint;
  iterator?: string;
}

/**
 * Moves outbox events from the stream to Kafka while this instance holds the lease: per shard,
 * read a batch, publish it, and only after Kafka acknowledged it move the shard's checkpoint in a
 * transaction fenced by the lease. A failure leaves the checkpoint where it was; the shard is
 * re-read from there after a capped backoff. A new term re-reads every checkpoint.
 *
 * Shards are read by lineage (a child only after its parents ended). Records the stream lost
 * (checkpoint behind the trim horizon, a shard trimmed away, a replaced stream) are re-read
 * from the outbox table and published before the stream is read on: never a silent skip.
 */
export class Relay {
  private readonly options: RelayOptions;
  private readonly shards = new Map<string, ShardState>();
  private stream?: { arn: string; source: ChangeSource };
  private running?: Promise<void>;
  private stopping = false;
  private wakeUp?: () => void;
  private lastShardRefresh = -Infinity;
  private loadedTerm?: number;
  /** Consecutive reads per shard refused for an invalid iterator. */
  private readonly readFailures = new Map<string, number>();

  constructor(options: RelayOptions) {
    this.options = options;
  }

  /** Starts the polling loop in the background. */
  start(): void {
    this.running ??= this.loop();
  }

  /** Ends a pause early (for example when this instance just became leader). */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops after the batch in flight is published and checkpointed. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.running;
  }

  private get now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async loop(): Promise<void> {
    const { lease, logger, metrics } = this.options;
    const backoff = this.options.failureBackoff ?? { initialMs: 100, maxMs: 5000 };
    let idleDelay = 0;
    let failureDelay = 0;
    while (!this.stopping) {
      const term = lease.term;
      if (term === undefined) {
        this.forget();
        await this.pause(this.options.pollIdleMaxMs);
        continue;
      }
      if (term !== this.loadedTerm) {
        // A new term: another leader may have moved the checkpoints meanwhile.
        this.forget();
        this.loadedTerm = term;
      }
      let progressed: boolean;
      try {
        progressed = await this.pollOnce();
        failureDelay = 0;
      } catch (error) {
        if (error instanceof LeaseLostError) {
          logger.warn({ err: error }, 'lost the lease; standing by');
          this.forget();
          continue;
        }
        failureDelay = nextFailureDelay(failureDelay, backoff);
        logger.warn({ err: error, retryInMs: failureDelay }, 'round failed; retrying from the last checkpoint');
        if ((error as { code?: string }).code === 'publish.failed') metrics.publishFailures.inc();
        for (const state of this.shards.values()) state.iterator = undefined;
        await this.pause(failureDelay);
        continue;
      }
      // Re-poll at once while records flow; back off to a bounded pause when idle.
      idleDelay = nextIdleDelay(idleDelay, progressed, this.options.pollIdleMaxMs);
      if (idleDelay > 0) await this.pause(idleDelay);
    }
  }

  private forget(): void {
    this.shards.clear();
    this.stream = undefined;
    this.lastShardRefresh = -Infinity;
    this.loadedTerm = undefined;
  }

  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wakeUp = done;
    });
  }

  /** One round over the readable shards; true when any records were read. */
  private async pollOnce(): Promise<boolean> {
    const now = this.now;
    if (!this.stream || now - this.lastShardRefresh >= (this.options.shardRefreshMs ?? 10000)) {
      await this.refreshShards();
      this.lastShardRefresh = now;
    }
    let progressed = false;
    for (const state of this.readableShards()) {
      if (this.stopping) break;
      progressed = (await this.pollShard(state)) || progressed;
    }
    return progressed;
  }

  private async refreshShards(): Promise<void> {
    const latest = (await this.options.resolveStreamArn()) ?? this.stream?.arn ?? (await this.pointedStream());
    if (this.stream?.arn !== latest) await this.enterStream(latest);
    const stream = this.stream as { arn: string; source: ChangeSource };
    const described = await stream.source.listShards();
    const stored = new Map((await this.options.checkpoints.list(stream.arn)).map((c) => [c.shardId, c]));
    for (const shard of described) {
      const known = this.shards.get(shard.shardId);
      if (known) {
        known.shard = shard;
        continue;
      }
      const checkpoint = stored.get(shard.shardId) ?? {
        shardId: shard.shardId,
        ended: false,
        parentShardId: shard.parentShardId,
      };
      this.shards.set(shard.shardId, { shard, checkpoint });
    }
    // Shards the relay had started but the stream trimmed away: their rest is in the table only.
    const { vanished } = planShards(described, stored);
    for (const shardId of vanished) {
      const checkpoint = stored.get(shardId) as ShardCheckpoint;
      this.options.logger.warn(
        { shardId },
        'a started shard was trimmed from the stream; backfilling from the outbox table',
      );
      const newest = await this.runBackfill(this.backfillStart([checkpoint]), 'shard_trimmed');
      await this.fencedCheckpoint({ ...checkpoint, ended: true, lastOccurredAt: newest ?? checkpoint.lastOccurredAt });
    }
  }

  /** With no stream on the table, the stream read last (its records are still readable for a day). */
  private async pointedStream(): Promise<string> {
    const pointer = await this.options.checkpoints.readStreamPointer();
    if (!pointer)
      throw new AppError('relay.no_stream', 'The outbox table has no stream; enable NEW_IMAGE streams on it', {
        retriable: true,
      });
    return pointer.streamArn;
  }

  /**
   * Starts reading `streamArn`. When the relay read another stream before (the stream was
   * disabled and enabled again), the records written in between are in neither stream: they
   * are backfilled from the table first.
   */
  private async enterStream(streamArn: string): Promise<void> {
    const { checkpoints, lease, logger } = this.options;
    const pointer = await checkpoints.readStreamPointer();
    if (pointer && pointer.streamArn !== streamArn) {
      logger.warn(
        { previous: pointer.streamArn, streamArn },
        'the outbox stream was replaced; backfilling from the outbox table',
      );
      const previous = await checkpoints.list(pointer.streamArn);
      await this.runBackfill(this.backfillStart(previous), 'stream_replaced');
    }
    if (pointer?.streamArn !== streamArn) {
      await lease.fenced((fence) => checkpoints.writeStreamPointer({ streamArn }, fence));
    }
    this.shards.clear();
    this.stream = { arn: streamArn, source: this.options.sourceFor(streamArn) };
  }

  /**
   * Where a backfill must start: the oldest "newest published event" among shards still open
   * (else the newest of all), minus the overlap. `undefined` (the whole table) when unknown.
   */
  private backfillStart(checkpoints: ShardCheckpoint[]): string | undefined {
    const times = (list: ShardCheckpoint[]) =>
      list.map((c) => (c.lastOccurredAt ? Date.parse(c.lastOccurredAt) : NaN)).filter((t) => !Number.isNaN(t));
    const open = times(checkpoints.filter((c) => !c.ended));
    const base =
      open.length > 0 ? Math.min(...open) : times(checkpoints).length > 0 ? Math.max(...times(checkpoints)) : undefined;
    if (base === undefined) return undefined;
    return new Date(base - (this.options.backfillOverlapMs ?? 300_000)).toISOString();
  }

  /**
   * Publishes every outbox event since `since` in per-aggregate seq order, a batch at a time as
   * the table is read (memory stays bounded); returns the newest occurredAt.
   */
  private async runBackfill(since: string | undefined, reason: string): Promise<string | undefined> {
    const { backfill, metrics, logger, batchSize } = this.options;
    let newest: string | undefined;
    let pending: SourceRecord[] = [];
    let total = 0;
    const flush = async () => {
      const { events, letters } = this.dispose(pending);
      pending = [];
      if (!this.options.lease.isLeader()) throw new LeaseLostError('lease validity ran out during a backfill');
      await this.options.publisher.publishBatch(events, letters);
      this.countPublished('backfill', events, letters);
      metrics.recordsBackfilled.inc({ reason }, events.length);
      newest = maxOccurredAt(newest, events);
    };
    const window = since === undefined ? {} : { fromMs: Date.parse(since) };
    for await (const page of backfill.read(window)) {
      for (const record of page) {
        pending.push(record);
        total += 1;
        if (pending.length >= batchSize) await flush();
      }
    }
    if (pending.length > 0) await flush();
    logger.info({ reason, since: since ?? 'the beginning', records: total }, 'backfill published');
    return newest;
  }

  /** Shards not yet ended whose parents ended, parents first. */
  private readableShards(): ShardState[] {
    const described = [...this.shards.values()].map((state) => state.shard);
    const progress = new Map([...this.shards.values()].map((state) => [state.shard.shardId, state.checkpoint]));
    return planShards(described, progress).readable.map((shardId) => this.shards.get(shardId) as ShardState);
  }

  private async pollShard(state: ShardState): Promise<boolean> {
    const { publisher, metrics, logger, lease } = this.options;
    const source = (this.stream as { source: ChangeSource }).source;
    const shardId = state.shard.shardId;
    if (isDrained(state.shard, state.checkpoint)) return this.markEnded(state);
    if (!state.iterator) {
      const { sequenceNumber, trimBackfilled } = state.checkpoint;
      const start: ShardStart =
        sequenceNumber !== undefined ? { after: sequenceNumber } : { from: trimBackfilled ? 'trim_horizon' : 'start' };
      try {
        state.iterator = await source.iteratorFor(state.shard, start);
      } catch (error) {
        // Records after the checkpoint (or, never read, before the oldest retained one) are gone from the stream.
        if (isSourceError(error, 'source.trimmed')) {
          await this.recoverTrimmed(state);
          return true;
        }
        throw error;
      }
      if (!state.iterator) return this.markEnded(state);
    }
    let batch;
    try {
      batch = await source.read(shardId, state.iterator, this.options.batchSize);
      this.readFailures.delete(shardId);
    } catch (error) {
      if (isSourceError(error, 'source.trimmed')) {
        await this.recoverTrimmed(state);
        return true;
      }
      if (!isSourceError(error, 'source.iterator_expired')) throw error;
      // An iterator that expired or fell behind the horizon is re-acquired from the checkpoint;
      // only the source saying records after the checkpoint are gone proves a loss.
      const failures = (this.readFailures.get(shardId) ?? 0) + 1;
      this.readFailures.set(shardId, failures);
      logger.info(
        { shardId, error: error.message, failures },
        'iterator no longer valid; re-acquiring it from the checkpoint',
      );
      state.iterator = undefined;
      if (failures > 3) throw error; // back off instead of spinning
      return true;
    }
    const ordered = source.mayReorder ? resequence(batch.records) : batch.records;
    if (ordered.length < batch.records.length) {
      const kept = new Set(ordered);
      for (const record of batch.records)
        if (!kept.has(record)) metrics.recordsRead.inc({ event_name: record.eventName });
      metrics.recordsIgnored.inc({ event_name: 'DUPLICATE' }, batch.records.length - ordered.length);
    }
    if (batch.millisBehindLatest !== undefined)
      metrics.shardBehindSeconds.set({ shard_id: shardId }, batch.millisBehindLatest / 1000);
    const { events, letters } = this.dispose(ordered);
    if (batch.records.length > 0) {
      metrics.batchSize.observe(batch.records.length);
      // Stop publishing once the lease could lapse: a standby may be about to take over.
      if (!lease.isLeader()) throw new LeaseLostError('lease validity ran out before publishing');
      const endTimer = metrics.publishDuration.startTimer();
      await publisher.publishBatch(events, letters);
      endTimer();
      this.countPublished(shardId, events, letters);
      const last = batch.records.at(-1) as SourceRecord;
      await this.saveCheckpoint(state, {
        ...state.checkpoint,
        sequenceNumber: last.sequenceNumber,
        lastOccurredAt: maxOccurredAt(state.checkpoint.lastOccurredAt, events),
      });
    }
    state.iterator = batch.nextIterator;
    if (!state.iterator) await this.markEnded(state);
    return batch.records.length > 0;
  }

  /**
   * The checkpoint lies before the trim horizon: publish what the table holds since the
   * checkpoint, then read the shard from its oldest retained record (repeats are harmless).
   */
  private async recoverTrimmed(state: ShardState): Promise<void> {
    const shardId = state.shard.shardId;
    this.options.logger.warn(
      { shardId, sequenceNumber: state.checkpoint.sequenceNumber },
      'checkpoint is behind the trim horizon; backfilling from the outbox table',
    );
    const known = state.checkpoint.lastOccurredAt
      ? [state.checkpoint]
      : [...this.shards.values()].map((s) => s.checkpoint);
    const newest = await this.runBackfill(this.backfillStart(known), 'trimmed');
    state.iterator = undefined;
    await this.saveCheckpoint(state, {
      ...state.checkpoint,
      sequenceNumber: undefined,
      trimBackfilled: true,
      lastOccurredAt: newest ?? state.checkpoint.lastOccurredAt,
    });
  }

  private dispose(records: SourceRecord[]): { events: OutgoingEvent[]; letters: DeadLetter[] } {
    const { metrics } = this.options;
    const events: OutgoingEvent[] = [];
    const letters: DeadLetter[] = [];
    for (const record of records) {
      metrics.recordsRead.inc({ event_name: record.eventName });
      const disposition = toOutgoing(record);
      if (disposition.kind === 'publish') events.push(disposition.event);
      else if (disposition.kind === 'deadLetter') letters.push(disposition.letter);
      else metrics.recordsIgnored.inc({ event_name: disposition.reason });
    }
    return { events, letters };
  }

  private countPublished(shardId: string, events: OutgoingEvent[], letters: DeadLetter[]): void {
    const { metrics, logger } = this.options;
    for (const event of events) metrics.recordsPublished.inc({ event_type: event.envelope.eventType });
    for (const letter of letters) {
      metrics.recordsDeadLettered.inc({ reason: letter.errorCode });
      logger.warn({ shardId, sequenceNumber: letter.sequenceNumber, code: letter.errorCode }, 'record dead-lettered');
    }
    const newest = maxOccurredAt(undefined, events);
    if (newest && shardId !== 'backfill') {
      metrics.shardLagSeconds.set({ shard_id: shardId }, Math.max(0, (this.now - Date.parse(newest)) / 1000));
    }
  }

  private async markEnded(state: ShardState): Promise<boolean> {
    this.options.logger.info({ shardId: state.shard.shardId }, 'shard read to its end');
    await this.saveCheckpoint(state, { ...state.checkpoint, ended: true });
    state.iterator = undefined;
    return true;
  }

  private async saveCheckpoint(state: ShardState, checkpoint: ShardCheckpoint): Promise<void> {
    await this.fencedCheckpoint(checkpoint);
    state.checkpoint = checkpoint;
  }

  private async fencedCheckpoint(checkpoint: ShardCheckpoint): Promise<void> {
    const { metrics, lease, checkpoints } = this.options;
    const streamArn = (this.stream as { arn: string }).arn;
    try {
      await lease.fenced((fence) => checkpoints.write(streamArn, checkpoint, fence));
      metrics.checkpointWrites.inc({ outcome: 'ok' });
    } catch (error) {
      metrics.checkpointWrites.inc({ outcome: error instanceof LeaseLostError ? 'fenced' : 'failed' });
      throw error;
    }
  }
}

/** The later of `current` and every event's `occurredAt`. */
function maxOccurredAt(current: string | undefined, events: OutgoingEvent[]): string | undefined {
  let newest = current;
  for (const event of events) {
    const at = event.envelope.occurredAt;
    if (newest === undefined || Date.parse(at) > Date.parse(newest)) newest = at;
  }
  return newest;
}
