import { toAppError, type Logger } from '@outbox/shared';
import type { CheckpointStore, ShardCheckpoint } from '../checkpoint/CheckpointStore';
import { LeaseLostError, type LeaderLease } from '../lease/LeaderLease';
import type { ChangeSource, SourceRecord, StreamShard } from '../source/StreamShard';
import type { DeadLetter, OutgoingEvent } from '../publish/KafkaPublisher';
import type { RelayMetrics } from './relayMetrics';
import { toOutgoing } from './toOutgoing';
import { nextFailureDelay, nextIdleDelay, type BackoffOptions } from './backoff';

/** What the relay needs from a publisher: resolve only once Kafka acknowledged everything. */
export interface BatchPublisher {
  publishBatch(events: OutgoingEvent[], letters: DeadLetter[]): Promise<void>;
}

/** Options for {@link Relay}. */
export interface RelayOptions {
  source: ChangeSource;
  checkpoints: CheckpointStore;
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
  /** How often the shard list is refreshed to find new shards. */
  shardRefreshMs?: number;
  /** Wall clock for lag (ms since epoch). */
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
 */
export class Relay {
  private readonly options: RelayOptions;
  private readonly shards = new Map<string, ShardState>();
  private running?: Promise<void>;
  private stopping = false;
  private wakeUp?: () => void;
  private lastShardRefresh = -Infinity;
  private loadedTerm?: number;

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

  private async loop(): Promise<void> {
    const { lease, logger, metrics } = this.options;
    const backoff = this.options.failureBackoff ?? { initialMs: 100, maxMs: 5000 };
    let idleDelay = 0;
    let failureDelay = 0;
    while (!this.stopping) {
      const term = lease.term;
      if (term === undefined) {
        this.forgetShards();
        await this.pause(this.options.pollIdleMaxMs);
        continue;
      }
      if (term !== this.loadedTerm) {
        // A new term: another leader may have moved the checkpoints meanwhile.
        this.forgetShards();
        this.loadedTerm = term;
      }
      let progressed = false;
      try {
        progressed = await this.pollOnce();
        failureDelay = 0;
      } catch (error) {
        if (error instanceof LeaseLostError) {
          logger.warn({ err: error }, 'lost the lease; standing by');
          this.forgetShards();
          continue;
        }
        failureDelay = nextFailureDelay(failureDelay, backoff);
        logger.warn({ err: error, retryInMs: failureDelay }, 'round failed; retrying from the last checkpoint');
        if (toAppError(error).code === 'publish.failed') metrics.publishFailures.inc();
        for (const state of this.shards.values()) state.iterator = undefined;
        await this.pause(failureDelay);
        continue;
      }
      // Re-poll at once while records flow; back off to a bounded pause when idle.
      idleDelay = nextIdleDelay(idleDelay, progressed, this.options.pollIdleMaxMs);
      if (idleDelay > 0) await this.pause(idleDelay);
    }
  }

  private forgetShards(): void {
    this.shards.clear();
    this.lastShardRefresh = -Infinity;
    this.loadedTerm = undefined;
  }

  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeUp = undefined;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /** One round over the readable shards; true when any records were read. */
  private async pollOnce(): Promise<boolean> {
    const now = (this.options.now ?? Date.now)();
    if (now - this.lastShardRefresh >= (this.options.shardRefreshMs ?? 10000)) {
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
    for (const shard of await this.options.source.listShards()) {
      const known = this.shards.get(shard.shardId);
      if (known) {
        known.shard = shard;
        continue;
      }
      const checkpoint = (await this.options.checkpoints.read(shard.shardId)) ?? {
        shardId: shard.shardId,
        ended: false,
        parentShardId: shard.parentShardId,
      };
      this.shards.set(shard.shardId, { shard, checkpoint });
    }
  }

  /** Shards not yet ended whose parent (if the relay knows it) has been read to its end. */
  private readableShards(): ShardState[] {
    return [...this.shards.values()].filter((state) => {
      if (state.checkpoint.ended) return false;
      const parentId = state.shard.parentShardId;
      const parent = parentId ? this.shards.get(parentId) : undefined;
      return !parent || parent.checkpoint.ended;
    });
  }

  private async pollShard(state: ShardState): Promise<boolean> {
    const { source, publisher, metrics, logger, lease } = this.options;
    const shardId = state.shard.shardId;
    state.iterator ??= await source.iteratorFor(shardId, state.checkpoint.sequenceNumber);
    if (!state.iterator) return this.markEnded(state);
    let batch;
    try {
      batch = await source.read(shardId, state.iterator, this.options.batchSize);
    } catch (error) {
      if ((error as { name?: string }).name === 'ExpiredIteratorException') {
        logger.info({ shardId }, 'iterator expired; re-acquiring it from the checkpoint');
        state.iterator = undefined;
        return true;
      }
      throw error;
    }
    const { events, letters } = this.dispose(batch.records);
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
        lastOccurredAt: newestOccurredAt(events) ?? state.checkpoint.lastOccurredAt,
      });
    }
    state.iterator = batch.nextIterator;
    if (!state.iterator) await this.markEnded(state);
    return batch.records.length > 0;
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
    const newest = newestOccurredAt(events);
    if (newest) {
      const lag = ((this.options.now ?? Date.now)() - Date.parse(newest)) / 1000;
      metrics.shardLagSeconds.set({ shard_id: shardId }, Math.max(0, lag));
    }
  }

  private async markEnded(state: ShardState): Promise<boolean> {
    this.options.logger.info({ shardId: state.shard.shardId }, 'shard read to its end');
    await this.saveCheckpoint(state, { ...state.checkpoint, ended: true });
    return true;
  }

  private async saveCheckpoint(state: ShardState, checkpoint: ShardCheckpoint): Promise<void> {
    const { metrics, lease, checkpoints } = this.options;
    try {
      await lease.fenced((fence) => checkpoints.write(checkpoint, fence));
      state.checkpoint = checkpoint;
      metrics.checkpointWrites.inc({ outcome: 'ok' });
    } catch (error) {
      metrics.checkpointWrites.inc({ outcome: error instanceof LeaseLostError ? 'fenced' : 'failed' });
      throw error;
    }
  }
}

/** The latest `occurredAt` among the events (ISO strings of one format compare as text). */
function newestOccurredAt(events: OutgoingEvent[]): string | undefined {
  let newest: string | undefined;
  for (const event of events) {
    const at = event.envelope.occurredAt;
    if (newest === undefined || Date.parse(at) > Date.parse(newest)) newest = at;
  }
  return newest;
}
