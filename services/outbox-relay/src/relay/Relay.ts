import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { exponentialBackoff, type BackoffOptions, type Logger } from '@outbox/shared';
import type { Checkpoints, ShardCheckpoint } from '../checkpoint/CheckpointStore';
import { LeaseLostError, type LeaderLease } from '../lease/LeaderLease';
import type { OwnedShard, ShardLeasing } from '../lease/ShardLeases';
import type { BackfillSource } from '../backfill/OutboxBackfill';
import type { ChangeSource, ShardStart, SourceRecord } from '../source/StreamShard';
import { isSourceError } from '../source/SourceError';
import { isDrained } from '../source/ShardLineage';
import type { RelayMetrics, RelayProgress, ShardLag } from './relayMetrics';
import { creationTimeRange, shardLagMs } from './shardLag';
import { resequence } from './resequence';
import { nextIdleDelay } from './idleDelay';
import { readLimit } from './readLimit';
import { RecordPublisher, maxOccurredAt, type BatchPublisher } from './RecordPublisher';
import { ShardTracker, type ShardState } from './ShardTracker';
import { BackfillCoordinator } from './BackfillCoordinator';

export type { BatchPublisher } from './RecordPublisher';

/** Kafka publishers by key (a shard id, or `stream` for the coordinator's backfills). */
export interface PublisherPool {
  /** The publisher for `key`; in transactional mode its transactional id names the key. */
  acquire(key: string): BatchPublisher;
  /** Done with `key`'s publisher (the shard's lease was handed back or lost). */
  release(key: string): Promise<void>;
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
  /** The stream pointer and the checkpoints of a replaced stream. */
  checkpoints: Checkpoints;
  /** Where events the stream lost are re-read from (the outbox table). */
  backfill: BackfillSource;
  publishers: PublisherPool;
  /** The coordinator lease: its holder follows the table's stream and backfills a replacement. */
  coordinator: Pick<LeaderLease, 'isLeader' | 'term' | 'fenced' | 'retained'>;
  /** Per-shard leases: which shards this instance reads, publishes and checkpoints. */
  leases: ShardLeasing;
  metrics: RelayMetrics;
  logger: Logger;
  /** Records a read asks for at most (and a backfill's batch). */
  batchSize: number;
  /** Records held at once across the shards this instance leads: see {@link readLimit}. */
  maxRecordsInFlight: number;
  /** How many shards may have a batch read ahead (0 without read-ahead): they count against that budget. */
  readAheadShards: number;
  /** Longest pause when a shard is idle. */
  pollIdleMaxMs: number;
  /** Backoff after a failed poll (Kafka or DynamoDB away); the checkpoint stays where it was. */
  failureBackoff: BackoffOptions;
  /** How often the shard list (and the table's stream) is refreshed. */
  shardRefreshMs: number;
  /**
   * A backfill starts this long before the oldest server-side position among unfinished shards
   * (writers stamp `occurredAt` before commit; stream times are approximate).
   */
  backfillOverlapMs: number;
  /**
   * A shard (or the shard listing) that has failed for this long, or a loop that has not come
   * round for this long, is stalled: see {@link Relay.stallReason}.
   */
  stallTimeoutMs: number;
  /** A shard's checkpoint is stored at most this often while records flow (and on end, handoff, stop). */
  checkpointIntervalMs: number;
  /** ... or once this many records were read since the last stored checkpoint, whichever comes first. */
  checkpointMaxRecords: number;
  /** Wall clock for lag and refresh timing (ms since epoch). */
  now?: () => number;
}

/** One shard this instance leads, read by its own loop. */
interface Worker {
  shardId: string;
  term: number;
  state: ShardState;
  vanished: boolean;
  records: RecordPublisher;
  backfill: BackfillCoordinator;
  /** The checkpoint last stored in the lease item. */
  saved: ShardCheckpoint;
  savedAt: number;
  /** Records read since the last stored checkpoint. */
  unsaved: number;
  /** A coalesced checkpoint write still in flight (it never rejects: see `storeFailure`). */
  storing?: Promise<void>;
  /** Why the last coalesced write failed, until the loop's next store reports it. */
  storeFailure?: unknown;
  readFailures: number;
  lastLoopAt: number;
  ended: boolean;
  wakeUp?: () => void;
  running?: Promise<void>;
}

/**
 * Moves outbox events from the stream to Kafka for the shards this instance leads: each leased
 * shard runs its own loop (read a batch, publish it, and only after Kafka acknowledged it move
 * the shard's checkpoint in memory; store it in the shard's lease item, fenced by the lease, at
 * most every `checkpointIntervalMs` or `checkpointMaxRecords` records, and always when the shard
 * ends, its lease is handed back, or the relay stops). A failure leaves the checkpoint where it
 * was; the shard is re-read from there after a capped backoff. A shard's new lease re-reads its
 * checkpoint from the lease item.
 *
 * Which stream to read comes from the {@link ShardTracker}; which shards, from the
 * {@link ShardLeasing} (lineage, balance). Records the stream lost are re-read from the outbox
 * table by a {@link BackfillCoordinator} before the stream is read on: never a silent skip.
 */
export class Relay implements RelayProgress {
  private readonly options: RelayOptions;
  private readonly tracker: ShardTracker;
  private readonly failureDelay: (attempt: number) => number;
  private readonly workers = new Map<string, Worker>();
  private running?: Promise<void>;
  private stopping = false;
  private wakeUp?: () => void;
  private lastShardRefresh = -Infinity;
  private coordinatorTerm?: number;
  /** The coordinator's publisher of stream-replacement backfills, while it has one. */
  private streamRecords?: RecordPublisher;
  /** When the main loop last came round (ms since epoch). */
  private lastLoopAt = 0;
  /** Since when listing the stream's shards has failed (until it works). */
  private refreshFailingSince?: number;
  private lastRefreshError?: unknown;
  private refreshFailures = 0;
  /** When Kafka last acknowledged a batch of a shard no longer led here. */
  private lastPublishedAt = 0;
  /** When a read at a shard's tip last found nothing new while no shard had records pending. */
  private lastCaughtUpAt = 0;

  constructor(options: RelayOptions) {
    this.options = options;
    this.tracker = new ShardTracker(options);
    this.failureDelay = exponentialBackoff(options.failureBackoff);
    options.metrics.reportProgressOf(this);
  }

  /**
   * Progress: when Kafka last acknowledged a batch (stream or backfill), or a read at a shard's
   * tip found nothing new while no shard had records pending (ms since epoch; 0 = never). The
   * stall watchdog and `relay_last_progress_timestamp_seconds` both read it.
   */
  lastProgressAt(): number {
    let published = Math.max(this.lastPublishedAt, this.streamRecords?.lastPublishedAt ?? 0);
    for (const worker of this.workers.values()) published = Math.max(published, worker.records.lastPublishedAt);
    return Math.max(published, this.lastCaughtUpAt);
  }

  /** True while this instance leads at least one shard or holds the coordinator lease. */
  isLeading(): boolean {
    return this.options.coordinator.isLeader() || this.options.leases.owned().length > 0;
  }

  /** The lag of every unfinished shard this instance leads and has read, computed now (see `shardLagMs`). */
  shardLags(): ShardLag[] {
    if (this.stopping) return [];
    const now = this.now;
    const lags: ShardLag[] = [];
    for (const worker of this.workers.values()) {
      const { state } = worker;
      if (worker.ended || state.checkpoint.ended || !this.options.leases.holds(worker.shardId, worker.term)) continue;
      const lagMs = shardLagMs(state, now);
      if (lagMs === undefined) continue;
      lags.push({
        shardId: worker.shardId,
        lagSeconds: lagMs / 1000,
        behindSeconds: state.millisBehindLatest === undefined ? undefined : state.millisBehindLatest / 1000,
      });
    }
    return lags;
  }

  /** Starts the main loop (stream and shard refresh, one loop per leased shard) in the background. */
  start(): void {
    this.running ??= this.loop();
  }

  /** Ends a pause early (for example when this instance just took or lost a lease). */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops every shard loop after its batch in flight, stores each last checkpoint and hands the leases back. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    for (const worker of this.workers.values()) worker.wakeUp?.();
    await this.running;
  }

  /**
   * Why this instance is stuck, or `undefined`: computed at call time, so it holds even while a
   * call hangs. Stuck means, for longer than `stallTimeoutMs` while leading: the shard list could
   * not be read, a led shard failed every poll (its records are pending and none moves), or a
   * loop did not come round at all.
   */
  stallReason(): string | undefined {
    const { stallTimeoutMs } = this.options;
    if (this.stopping || !this.isLeading()) return undefined;
    const now = this.now;
    const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
    // A long backfill keeps the main loop in one round, but each batch it publishes is progress.
    const loopAlive = Math.max(this.lastLoopAt, this.lastProgressAt());
    if (now - loopAlive > stallTimeoutMs)
      return `the relay loop has not come round for ${now - loopAlive} ms (a call without an answer)`;
    if (this.refreshFailingSince !== undefined && now - this.refreshFailingSince > stallTimeoutMs)
      return `the stream's shards could not be listed for ${now - this.refreshFailingSince} ms: ${message(this.lastRefreshError)}`;
    for (const worker of this.workers.values()) {
      if (!this.options.leases.holds(worker.shardId, worker.term)) continue;
      // A long backfill keeps the loop in one round, but each batch it publishes is progress.
      const alive = Math.max(worker.lastLoopAt, worker.records.lastPublishedAt);
      if (now - alive > stallTimeoutMs)
        return `the loop of shard ${worker.shardId} has not come round for ${now - alive} ms (a call without an answer)`;
      const { state } = worker;
      if (state.failingSince !== undefined && now - state.failingSince > stallTimeoutMs)
        return `shard ${worker.shardId} made no progress for ${now - state.failingSince} ms: ${message(state.lastError)}`;
    }
    return undefined;
  }

  private get now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async loop(): Promise<void> {
    const { logger, metrics } = this.options;
    this.refreshFailingSince = this.now;
    while (!this.stopping) {
      this.lastLoopAt = this.now;
      let retryInMs: number | undefined;
      if (!this.tracker.hasStream || this.now - this.lastShardRefresh >= this.options.shardRefreshMs) {
        try {
          await this.refresh();
          this.lastShardRefresh = this.now;
          this.refreshFailingSince = undefined;
          this.refreshFailures = 0;
        } catch (error) {
          this.refreshFailures += 1;
          retryInMs = this.failureDelay(this.refreshFailures);
          if (!(error instanceof LeaseLostError)) {
            this.refreshFailingSince ??= this.now;
            this.lastRefreshError = error;
            if ((error as { code?: string }).code === 'publish.failed') metrics.publishFailures.inc();
          }
          logger.warn({ err: error, retryInMs }, 'stream refresh failed; retrying');
        }
      }
      this.reconcile();
      await this.pause(retryInMs ?? this.options.pollIdleMaxMs);
    }
    await Promise.all([...this.workers.values()].map((worker) => worker.running));
  }

  /** Follows the stream (the coordinator moves it on after a replacement), lists its shards and offers them to the leases. */
  private async refresh(): Promise<void> {
    const { coordinator, logger, leases } = this.options;
    const term = coordinator.term;
    if (term !== undefined) {
      if (term !== this.coordinatorTerm) {
        // A new term: look at the table's stream and the pointer afresh.
        this.coordinatorTerm = term;
        this.tracker.forget();
      }
      const change = await this.tracker.streamChange();
      if (change) {
        if (change.replaced) {
          logger.warn(
            { streamArn: change.streamArn },
            'the outbox stream was replaced; backfilling from the outbox table',
          );
          await this.streamBackfill().streamReplaced(change.replaced);
        }
        await this.leaveStream(change.streamArn);
        await this.tracker.enterStream(change.streamArn, true);
      }
    } else {
      this.coordinatorTerm = undefined;
      const pointed = await this.tracker.pointerChange();
      if (pointed) {
        await this.leaveStream(pointed);
        await this.tracker.enterStream(pointed, false);
      }
      // Before any coordinator named a stream there is nothing to read yet.
      if (!this.tracker.hasStream) return;
    }
    const arn = this.tracker.streamArn as string;
    await leases.offer(arn, await this.tracker.source.listShards());
  }

  /** A coordinator's publisher for the backfill of a replaced stream, fenced by the coordinator lease. */
  private streamBackfill(): BackfillCoordinator {
    const { coordinator } = this.options;
    this.streamRecords ??= new RecordPublisher({
      publisher: this.options.publishers.acquire('stream'),
      lease: coordinator,
      metrics: this.options.metrics,
      logger: this.options.logger,
      now: () => this.now,
      untilValid: async () => {
        while (!coordinator.isLeader() && coordinator.retained && !this.stopping) await delay(20);
      },
    });
    return this.backfillFor(this.streamRecords);
  }

  private backfillFor(records: RecordPublisher): BackfillCoordinator {
    return new BackfillCoordinator({
      backfill: this.options.backfill,
      records,
      metrics: this.options.metrics,
      logger: this.options.logger,
      batchSize: this.options.batchSize,
      overlapMs: this.options.backfillOverlapMs,
    });
  }

  /** Moving to another stream: every shard loop of the old one stores its checkpoint and hands its lease back. */
  private async leaveStream(next: string): Promise<void> {
    if (this.tracker.streamArn === undefined || this.tracker.streamArn === next) return;
    const workers = [...this.workers.values()];
    for (const worker of workers) this.stopWorker(worker);
    await Promise.all(workers.map((worker) => worker.running));
  }

  /** Starts a loop for every shard newly leased on the current stream. */
  private reconcile(): void {
    if (this.stopping || !this.tracker.hasStream) return;
    for (const owned of this.options.leases.owned()) {
      if (owned.streamArn !== this.tracker.streamArn) continue;
      const worker = this.workers.get(owned.shardId);
      if (worker?.term === owned.term) continue;
      if (worker) continue; // the previous term's loop is still finishing; next round
      this.startWorker(owned);
    }
  }

  private startWorker(owned: OwnedShard): void {
    const { metrics, logger, publishers, leases } = this.options;
    const { shardId, term } = owned;
    const records = new RecordPublisher({
      publisher: publishers.acquire(shardId),
      lease: { isLeader: () => leases.holds(shardId, term) },
      metrics,
      logger,
      now: () => this.now,
      untilValid: async () => {
        while (!leases.holds(shardId, term) && leases.retains(shardId, term) && !this.stopping) await delay(20);
      },
    });
    // The stream's reader as this term starts: what it holds for the shard is let go when the loop ends.
    const source = this.tracker.source;
    const worker: Worker = {
      shardId,
      term,
      state: { shard: owned.shard, checkpoint: owned.checkpoint },
      vanished: owned.vanished,
      records,
      backfill: this.backfillFor(records),
      saved: owned.checkpoint,
      savedAt: this.now,
      unsaved: 0,
      readFailures: 0,
      lastLoopAt: this.now,
      ended: false,
    };
    this.workers.set(shardId, worker);
    logger.info({ shardId, checkpoint: owned.checkpoint.sequenceNumber ?? null }, 'reading shard');
    worker.running = this.runWorker(worker)
      .catch((error: unknown) => logger.error({ err: error, shardId }, 'shard loop failed'))
      .finally(async () => {
        this.lastPublishedAt = Math.max(this.lastPublishedAt, worker.records.lastPublishedAt);
        // Released before the next term's loop may take the same key.
        await publishers.release(shardId).catch(() => undefined);
        // A batch read ahead for a shard no longer read would hold memory and a read-ahead place.
        source.release?.(shardId);
        this.workers.delete(shardId);
        this.wake();
      });
  }

  private stopWorker(worker: Worker): void {
    worker.ended = true;
    worker.wakeUp?.();
  }

  private async runWorker(worker: Worker): Promise<void> {
    const { leases, logger, metrics } = this.options;
    const { state, shardId, term } = worker;
    let idleDelay = 0;
    while (!this.stopping && !worker.ended && !state.checkpoint.ended && leases.retains(shardId, term)) {
      worker.lastLoopAt = this.now;
      if (!leases.holds(shardId, term)) {
        // Lapsed (a pause, slow renewals): act no more until a renewal proves nobody took it.
        await this.pauseWorker(worker, this.options.pollIdleMaxMs);
        continue;
      }
      if (state.retryAt !== undefined && state.retryAt > this.now) {
        await this.pauseWorker(worker, state.retryAt - this.now);
        continue;
      }
      let progressed: boolean;
      try {
        progressed = worker.vanished ? await this.finishVanished(worker) : await this.pollShard(worker);
        state.failures = 0;
        state.retryAt = undefined;
        state.failingSince = undefined;
        await this.store(worker, false);
      } catch (error) {
        // Lost (the loop ends) or lapsed (it waits): re-read from the in-memory checkpoint.
        if (error instanceof LeaseLostError) {
          state.iterator = undefined;
          continue;
        }
        this.shardFailed(state, error);
        continue;
      }
      if (state.checkpoint.ended) break;
      idleDelay = nextIdleDelay(idleDelay, progressed, this.options.pollIdleMaxMs);
      if (idleDelay > 0) await this.pauseWorker(worker, idleDelay);
    }
    worker.ended = true;
    // The loop's last coalesced write lands (or fails) before the loop ends.
    await worker.storing;
    if (!leases.holds(shardId, term)) {
      logger.warn({ shardId }, 'lost the lease of the shard; stopped reading it');
      return;
    }
    // A handoff (stop, shard end, stream change): store the last checkpoint, then hand the lease back.
    try {
      await this.store(worker, true);
    } catch (error) {
      metrics.checkpointWrites.inc({ outcome: 'failed' });
      logger.warn({ err: error, shardId }, 'last checkpoint not stored; the next owner re-reads a little');
    }
    await leases.release(shardId, term);
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

  private pauseWorker(worker: Worker, ms: number): Promise<void> {
    if (this.stopping || worker.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        worker.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      worker.wakeUp = done;
    });
  }

  /**
   * Moves the shard's checkpoint in memory (only after Kafka acknowledged every record up to it)
   * and stores it now when `force`d (the shard ended, was trimmed, a handoff) or when the
   * coalescing bound is reached.
   */
  private async save(worker: Worker, checkpoint: ShardCheckpoint, force: boolean, records = 0): Promise<void> {
    worker.state.checkpoint = checkpoint;
    worker.unsaved += records;
    await this.store(worker, force);
  }

  /**
   * Stores the in-memory checkpoint when forced, or every `checkpointIntervalMs` /
   * `checkpointMaxRecords`. A coalesced store is written in the background while the shard reads
   * and publishes on (the checkpoint is only where a new owner resumes, so a write that lands a
   * batch later replays nothing more than the interval allows); one write per shard at a time,
   * in order. Its failure is thrown by the shard's next store, which then retries from the
   * checkpoint like any failed poll. A forced store waits for the write in flight, then writes.
   */
  private async store(worker: Worker, force: boolean): Promise<void> {
    if (worker.storing) {
      if (!force) return;
      await worker.storing;
    }
    const failure = worker.storeFailure;
    worker.storeFailure = undefined;
    // A forced store supersedes a failed coalesced one; otherwise the loop hears of the failure.
    if (failure !== undefined && !force) throw failure;
    const { checkpoint } = worker.state;
    if (checkpoint === worker.saved) return;
    const due =
      force ||
      worker.unsaved >= this.options.checkpointMaxRecords ||
      this.now - worker.savedAt >= this.options.checkpointIntervalMs;
    // A lapsed lease stores nothing until it is renewed (a forced store says so by throwing).
    if (!due || (!force && !this.options.leases.holds(worker.shardId, worker.term))) return;
    const write = this.writeCheckpoint(worker, checkpoint);
    if (force) return write;
    worker.storing = write
      .catch((error: unknown) => {
        worker.storeFailure = error;
      })
      .finally(() => {
        worker.storing = undefined;
      });
  }

  private async writeCheckpoint(worker: Worker, checkpoint: ShardCheckpoint): Promise<void> {
    const { metrics, leases } = this.options;
    const records = worker.unsaved;
    try {
      await leases.checkpoint(worker.shardId, worker.term, checkpoint);
      metrics.checkpointWrites.inc({ outcome: 'ok' });
    } catch (error) {
      metrics.checkpointWrites.inc({ outcome: error instanceof LeaseLostError ? 'fenced' : 'failed' });
      throw error;
    }
    worker.saved = checkpoint;
    worker.savedAt = this.now;
    // Records read while the write was in flight count toward the next one.
    worker.unsaved -= records;
  }

  /**
   * Waits while the shard's lease is lapsed (reading a large batch can hold the event loop past
   * the lease's validity): a renewal that proves nobody took it lets the batch read under this
   * lease be published; a lost lease (or a stop) throws {@link LeaseLostError}.
   */
  private async untilValid(worker: Worker): Promise<void> {
    const { leases } = this.options;
    while (!leases.holds(worker.shardId, worker.term)) {
      if (this.stopping || worker.ended || !leases.retains(worker.shardId, worker.term))
        throw new LeaseLostError(`the lease of shard ${worker.shardId} is gone`);
      worker.lastLoopAt = this.now;
      await this.pauseWorker(worker, 20);
    }
  }

  /** The checkpoints of every shard of the current stream, this instance's in-memory ones first. */
  private async knownCheckpoints(): Promise<ShardCheckpoint[]> {
    const mine = new Map([...this.workers.values()].map((w) => [w.shardId, w.state.checkpoint]));
    const stored = await this.options.leases.list(this.tracker.streamArn as string);
    return [...mine.values(), ...stored.filter((c) => !mine.has(c.shardId))];
  }

  /** A shard the relay had started vanished from the stream (trimmed away): its rest is in the table only. */
  private async finishVanished(worker: Worker): Promise<boolean> {
    const { checkpoint } = worker.state;
    const newest = await worker.backfill.shardVanished(checkpoint, await this.knownCheckpoints());
    await this.save(
      worker,
      { ...worker.state.checkpoint, ended: true, lastOccurredAt: newest ?? checkpoint.lastOccurredAt },
      true,
    );
    return true;
  }

  private async markEnded(worker: Worker): Promise<void> {
    this.options.logger.info({ shardId: worker.shardId }, 'shard read to its end');
    await this.save(worker, { ...worker.state.checkpoint, ended: true }, true);
    worker.state.iterator = undefined;
  }

  private async pollShard(worker: Worker): Promise<boolean> {
    const { metrics, logger } = this.options;
    const { state, shardId } = worker;
    const source = this.tracker.source;
    if (isDrained(state.shard, state.checkpoint)) {
      await this.markEnded(worker);
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
          await this.recoverTrimmed(worker);
          return true;
        }
        throw error;
      }
      if (!state.iterator) {
        await this.markEnded(worker);
        return true;
      }
    }
    let batch;
    try {
      const { batchSize, maxRecordsInFlight, readAheadShards } = this.options;
      const limit = readLimit(batchSize, maxRecordsInFlight, this.workers.size, readAheadShards);
      batch = await source.read(shardId, state.iterator, limit);
      worker.readFailures = 0;
    } catch (error) {
      if (isSourceError(error, 'source.trimmed')) {
        await this.recoverTrimmed(worker);
        return true;
      }
      if (!isSourceError(error, 'source.iterator_expired')) throw error;
      // An iterator that expired or fell behind the horizon is re-acquired from the checkpoint;
      // only the source saying records after the checkpoint are gone proves a loss.
      worker.readFailures += 1;
      logger.info(
        { shardId, error: error.message, failures: worker.readFailures },
        'iterator no longer valid; re-acquiring it from the checkpoint',
      );
      state.iterator = undefined;
      if (worker.readFailures > 3) throw error; // back off instead of spinning
      return true;
    }
    // A batch's steps (decode, check, publish) are long runs of CPU for one shard: between them
    // the event loop runs timers and other shards, so lease renewals stay on time on a small
    // CPU share (at 0.25 vCPU a 500-record batch is most of a second of work).
    if (batch.records.length > 0) await yieldToLoop();
    const ordered = source.mayReorder ? resequence(batch.records) : batch.records;
    if (ordered.length < batch.records.length) {
      const kept = new Set(ordered);
      for (const record of batch.records)
        if (!kept.has(record)) metrics.recordsRead.inc({ event_name: record.eventName });
      metrics.recordsIgnored.inc({ event_name: 'DUPLICATE' }, batch.records.length - ordered.length);
    }
    if (batch.millisBehindLatest !== undefined) state.millisBehindLatest = batch.millisBehindLatest;
    const disposed = worker.records.dispose(ordered);
    if (batch.records.length > 0) {
      metrics.batchSize.observe(batch.records.length);
      // Pending from now until Kafka acknowledges (a failed attempt keeps the older start).
      const { oldest, newest } = creationTimeRange(batch.records, this.now);
      state.atTip = false;
      state.pendingSinceMs = Math.min(state.pendingSinceMs ?? oldest, oldest);
      await yieldToLoop();
      await this.untilValid(worker);
      await worker.records.publish(shardId, disposed, 'stream batch');
      state.pendingSinceMs = undefined;
      state.ackedUpToMs = newest;
      const last = batch.records.at(-1) as SourceRecord;
      await this.save(
        worker,
        {
          ...state.checkpoint,
          sequenceNumber: last.sequenceNumber,
          lastOccurredAt: maxOccurredAt(state.checkpoint.lastOccurredAt, disposed.events),
          lastServerTimeMs: latestServerTime(state.checkpoint.lastServerTimeMs, batch.records),
        },
        false,
        batch.records.length,
      );
    } else if (!batch.millisBehindLatest) this.reachedTip(state);
    state.iterator = batch.nextIterator;
    if (!state.iterator) await this.markEnded(worker);
    return batch.records.length > 0;
  }

  /** A read at the shard's tip found nothing new: its lag is 0, and the relay caught up if no shard waits. */
  private reachedTip(state: ShardState): void {
    state.atTip = true;
    state.pendingSinceMs = undefined;
    state.ackedUpToMs = undefined;
    if ([...this.workers.values()].every((other) => other.state.pendingSinceMs === undefined))
      this.lastCaughtUpAt = this.now;
  }

  /**
   * Records of the shard the relay has not read are gone from the stream: publish what the table
   * holds from the oldest position of any unfinished shard, then read the shard from its oldest
   * retained record without another trim check (repeats are harmless). Its position time stays
   * where it was until it reads again, so a later backfill still reaches back far enough.
   */
  private async recoverTrimmed(worker: Worker): Promise<void> {
    const { state } = worker;
    const newest = await worker.backfill.checkpointTrimmed(state.checkpoint, await this.knownCheckpoints());
    state.iterator = undefined;
    await this.save(
      worker,
      {
        ...state.checkpoint,
        sequenceNumber: undefined,
        trimBackfilled: true,
        lastOccurredAt: newest ?? state.checkpoint.lastOccurredAt,
      },
      true,
    );
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
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
