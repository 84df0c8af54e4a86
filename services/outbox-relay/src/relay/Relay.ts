import { exponentialBackoff, type BackoffOptions, type Logger } from '@outbox/shared';
import type { Checkpoints } from '../checkpoint/CheckpointStore';
import { LeaseLostError, type LeaderLease } from '../lease/LeaderLease';
import type { BackfillSource } from '../backfill/OutboxBackfill';
import type { ChangeSource, ShardStart, SourceRecord } from '../source/StreamShard';
import { isSourceError } from '../source/SourceError';
import { isDrained } from '../source/ShardLineage';
import type { RelayMetrics } from './relayMetrics';
import { resequence } from './resequence';
import { nextIdleDelay } from './idleDelay';
import { RecordPublisher, maxOccurredAt, type BatchPublisher } from './RecordPublisher';
import { ShardTracker, type ShardState } from './ShardTracker';
import { BackfillCoordinator } from './BackfillCoordinator';

export type { BatchPublisher } from './RecordPublisher';

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
  failureBackoff: BackoffOptions;
  /** How often the shard list (and the table's stream) is refreshed. */
  shardRefreshMs: number;
  /**
   * A backfill starts this long before the oldest server-side position among unfinished shards
   * (writers stamp `occurredAt` before commit; stream times are approximate).
   */
  backfillOverlapMs: number;
  /**
   * A leader whose shard (or shard listing) has failed for this long, or whose loop has not come
   * round for this long, is stalled: see {@link Relay.stallReason}.
   */
  stallTimeoutMs: number;
  /** Wall clock for lag and refresh timing (ms since epoch). */
  now?: () => number;
}

/**
 * Moves outbox events from the stream to Kafka while this instance holds the lease: per shard,
 * read a batch, publish it, and only after Kafka acknowledged it move the shard's checkpoint in a
 * transaction fenced by the lease. A failure leaves the checkpoint where it was; the shard is
 * re-read from there after a capped backoff. A new term re-reads every checkpoint.
 *
 * Which shards to read comes from the {@link ShardTracker} (lineage, checkpoints); records the
 * stream lost are re-read from the outbox table by the {@link BackfillCoordinator} before the
 * stream is read on: never a silent skip.
 */
export class Relay {
  private readonly options: RelayOptions;
  private readonly tracker: ShardTracker;
  private readonly records: RecordPublisher;
  private readonly backfill: BackfillCoordinator;
  private readonly failureDelay: (attempt: number) => number;
  private running?: Promise<void>;
  private stopping = false;
  private wakeUp?: () => void;
  private lastShardRefresh = -Infinity;
  private loadedTerm?: number;
  /** Consecutive reads per shard refused for an invalid iterator. */
  private readonly readFailures = new Map<string, number>();
  /** When the loop last came round (ms since epoch). */
  private lastLoopAt = 0;
  /** Since when listing the stream's shards has failed (from the start of the term until it works). */
  private refreshFailingSince?: number;
  private lastRefreshError?: unknown;

  constructor(options: RelayOptions) {
    this.options = options;
    const now = () => this.now;
    this.tracker = new ShardTracker(options);
    this.records = new RecordPublisher({ ...options, now });
    this.backfill = new BackfillCoordinator({
      backfill: options.backfill,
      records: this.records,
      metrics: options.metrics,
      logger: options.logger,
      batchSize: options.batchSize,
      overlapMs: options.backfillOverlapMs,
    });
    this.failureDelay = exponentialBackoff(options.failureBackoff);
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

  /**
   * Why this leader is stuck, or `undefined`: computed at call time, so it holds even while a
   * call hangs. Stuck means, for longer than `stallTimeoutMs`: the shard list could not be read,
   * a readable shard failed every poll (its records are pending and none moves), or the loop
   * did not come round at all.
   */
  stallReason(): string | undefined {
    const { lease, stallTimeoutMs } = this.options;
    if (this.stopping || lease.term === undefined || this.loadedTerm === undefined) return undefined;
    const now = this.now;
    const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
    // A long backfill keeps the loop in one round, but each batch it publishes is progress.
    const alive = Math.max(this.lastLoopAt, this.records.lastPublishedAt);
    if (now - alive > stallTimeoutMs)
      return `the relay loop has not come round for ${now - alive} ms (a call without an answer)`;
    if (this.refreshFailingSince !== undefined && now - this.refreshFailingSince > stallTimeoutMs)
      return `the stream's shards could not be listed for ${now - this.refreshFailingSince} ms: ${message(this.lastRefreshError)}`;
    for (const state of this.tracker.readableShards()) {
      if (state.failingSince !== undefined && now - state.failingSince > stallTimeoutMs)
        return `shard ${state.shard.shardId} made no progress for ${now - state.failingSince} ms: ${message(state.lastError)}`;
    }
    return undefined;
  }

  private get now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async loop(): Promise<void> {
    const { lease, logger, metrics } = this.options;
    let idleDelay = 0;
    let failures = 0;
    while (!this.stopping) {
      this.lastLoopAt = this.now;
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
        this.refreshFailingSince = this.now;
      }
      let progressed: boolean;
      try {
        progressed = await this.pollOnce();
        failures = 0;
      } catch (error) {
        if (error instanceof LeaseLostError) {
          logger.warn({ err: error }, 'lost the lease; standing by');
          this.forget();
          continue;
        }
        failures += 1;
        const retryInMs = this.failureDelay(failures);
        this.refreshFailingSince ??= this.now;
        this.lastRefreshError = error;
        logger.warn({ err: error, retryInMs }, 'round failed; retrying from the last checkpoint');
        if ((error as { code?: string }).code === 'publish.failed') metrics.publishFailures.inc();
        this.tracker.dropIterators();
        await this.pause(retryInMs);
        continue;
      }
      // Re-poll at once while records flow; back off to a bounded pause when idle.
      idleDelay = nextIdleDelay(idleDelay, progressed, this.options.pollIdleMaxMs);
      if (idleDelay > 0) await this.pause(idleDelay);
    }
  }

  private forget(): void {
    this.tracker.forget();
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
    if (!this.tracker.hasStream || now - this.lastShardRefresh >= this.options.shardRefreshMs) {
      await this.refreshShards();
      this.lastShardRefresh = now;
      this.refreshFailingSince = undefined;
    }
    let progressed = false;
    for (const state of this.tracker.readableShards()) {
      if (this.stopping) break;
      if (state.retryAt !== undefined && state.retryAt > this.now) continue;
      // One failing shard backs off on its own; the others go on.
      try {
        progressed = (await this.pollShard(state)) || progressed;
        state.failures = 0;
        state.retryAt = undefined;
        state.failingSince = undefined;
      } catch (error) {
        if (error instanceof LeaseLostError) throw error;
        this.shardFailed(state, error);
      }
    }
    return progressed;
  }

  private shardFailed(state: ShardState, error: unknown): void {
    const { logger, metrics } = this.options;
    state.failures = (state.failures ?? 0) + 1;
    const retryInMs = this.failureDelay(state.failures);
    state.retryAt = this.now + retryInMs;
    state.failingSince ??= this.now;
    state.lastError = error;
    state.iterator = undefined;
    if ((error as { code?: string }).code === 'publish.failed') metrics.publishFailures.inc();
    logger.warn(
      { err: error, shardId: state.shard.shardId, failures: state.failures, retryInMs },
      'shard poll failed; retrying it from its checkpoint',
    );
  }

  /** Follows the table's stream and its shards, backfilling whatever a change made the stream lose. */
  private async refreshShards(): Promise<void> {
    const change = await this.tracker.streamChange();
    if (change) {
      if (change.replaced) {
        this.options.logger.warn(
          { streamArn: change.streamArn },
          'the outbox stream was replaced; backfilling from the outbox table',
        );
        await this.backfill.streamReplaced(change.replaced);
      }
      await this.tracker.enterStream(change.streamArn);
    }
    for (const checkpoint of await this.tracker.refreshShards()) {
      const newest = await this.backfill.shardVanished(checkpoint, await this.tracker.knownCheckpoints());
      await this.tracker.write({ ...checkpoint, ended: true, lastOccurredAt: newest ?? checkpoint.lastOccurredAt });
    }
  }

  private async pollShard(state: ShardState): Promise<boolean> {
    const { metrics, logger } = this.options;
    const source = this.tracker.source;
    const shardId = state.shard.shardId;
    if (isDrained(state.shard, state.checkpoint)) {
      await this.tracker.markEnded(state);
      return true;
    }
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
      if (!state.iterator) {
        await this.tracker.markEnded(state);
        return true;
      }
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
    const disposed = this.records.dispose(ordered);
    if (batch.records.length > 0) {
      metrics.batchSize.observe(batch.records.length);
      await this.records.publish(shardId, disposed, 'stream batch');
      const last = batch.records.at(-1) as SourceRecord;
      await this.tracker.save(state, {
        ...state.checkpoint,
        sequenceNumber: last.sequenceNumber,
        lastOccurredAt: maxOccurredAt(state.checkpoint.lastOccurredAt, disposed.events),
        lastServerTimeMs: latestServerTime(state.checkpoint.lastServerTimeMs, batch.records),
      });
    }
    state.iterator = batch.nextIterator;
    if (!state.iterator) await this.tracker.markEnded(state);
    return batch.records.length > 0;
  }

  /**
   * Records of the shard the relay has not read are gone from the stream: publish what the table
   * holds from the oldest position of any unfinished shard, then read the shard from its oldest
   * retained record without another trim check (repeats are harmless). Its position time stays
   * where it was until it reads again, so a later backfill still reaches back far enough.
   */
  private async recoverTrimmed(state: ShardState): Promise<void> {
    const newest = await this.backfill.checkpointTrimmed(state.checkpoint, await this.tracker.knownCheckpoints());
    state.iterator = undefined;
    await this.tracker.save(state, {
      ...state.checkpoint,
      sequenceNumber: undefined,
      trimBackfilled: true,
      lastOccurredAt: newest ?? state.checkpoint.lastOccurredAt,
    });
  }
}

/** The later of `current` and the server-side time of every record. */
function latestServerTime(current: number | undefined, records: SourceRecord[]): number | undefined {
  let latest = current;
  for (const record of records) {
    if (record.serverTimeMs !== undefined && (latest === undefined || record.serverTimeMs > latest)) {
      latest = record.serverTimeMs;
    }
  }
  return latest;
}
