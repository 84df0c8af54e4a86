import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { AppError, parseEnvelope, toAppError, type Logger, type OrderEventEnvelope } from '@outbox/shared';
import type { NotificationService } from '../notify/NotificationService';
import { reasonFor, type DeadLetterPublisher } from '../deadLetter/DeadLetterPublisher';
import type { NotifierMetrics } from './notifierMetrics';
import { PartitionProgress } from './PartitionProgress';

/** Options for {@link OrderEventsConsumer}. */
export interface OrderEventsConsumerOptions {
  consumer: Consumer;
  topic: string;
  service: NotificationService;
  deadLetters: DeadLetterPublisher;
  metrics: NotifierMetrics;
  logger: Logger;
  /** Partitions processed at the same time; each partition stays sequential. */
  partitionConcurrency: number;
  /** Commit at most this often per partition; 0 commits after every batch. */
  commitIntervalMs: number;
  /** How long a held event waits for the missing seq before it is dead-lettered as `gap`. */
  gapTimeoutMs: number;
  /** How often held events are retried and checked against the gap timeout. */
  gapRecheckMs: number;
  /** Pause before the n-th consecutive retry of a partition after a transient error. */
  backoff: (attempt: number) => number;
  /** Monotonic milliseconds for timeouts and intervals; injectable for tests. */
  now?: () => number;
}

/** An event waiting for an earlier seq of its aggregate. */
interface HeldEvent {
  message: KafkaMessage;
  envelope: OrderEventEnvelope;
  heldAt: number;
  firstFailedAt: Date;
}

interface PartitionState {
  progress: PartitionProgress;
  /** Held events per aggregate id, in seq order. */
  held: Map<string, HeldEvent[]>;
  /** Serializes the partition's batches with the sweep of its held events. */
  lock: Promise<void>;
  attempts: number;
  resumeTimer?: NodeJS.Timeout;
  lastCommitAt: number;
}

type Attempt = { kind: 'done' } | { kind: 'gap' } | { kind: 'retry'; error: AppError };

/**
 * Consumes order events in a consumer group and turns each into its effects exactly once.
 *
 * - Offsets are committed by hand, only up to the lowest message not yet done, so a crash
 *   redelivers and the inbox turns the redelivery into a counted no-op.
 * - Partitions are processed concurrently, each strictly in offset order; one aggregate lives
 *   on one partition, and the inbox cursor enforces `seq` order on top.
 * - An event that skips ahead is held (the partition goes on) and retried whenever its aggregate
 *   moves and on every recheck; after the gap timeout it is dead-lettered with reason `gap`.
 * - A permanent failure goes to `<topic>.dlq` and the partition goes on; a transient one pauses
 *   only that partition, with capped exponential backoff, and redelivers the same message.
 */
export class OrderEventsConsumer {
  private readonly options: OrderEventsConsumerOptions;
  private readonly now: () => number;
  private readonly partitions = new Map<number, PartitionState>();
  private sweepTimer?: NodeJS.Timeout;
  private stopping = false;
  private sweeping = false;

  constructor(options: OrderEventsConsumerOptions) {
    this.options = options;
    this.now = options.now ?? (() => performance.now());
  }

  async start(): Promise<void> {
    const { consumer, topic } = this.options;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => this.onAssignment(payload.memberAssignment[topic] ?? []));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionConcurrency,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.sweepTimer = setInterval(() => void this.sweep(), this.options.gapRecheckMs);
    this.sweepTimer.unref();
  }

  /** Finishes in-flight work, commits what is done, and leaves the group. Call once. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweepTimer);
    for (const state of this.partitions.values()) clearTimeout(state.resumeTimer);
    // Wait for in-flight batches and sweeps; new batches see `stopping` and return at once.
    await Promise.all([...this.partitions.values()].map((state) => state.lock));
    await Promise.all([...this.partitions.keys()].map((partition) => this.commit(partition, true)));
    await this.options.consumer.disconnect();
  }

  /** Events currently held for a gap, for tests and readiness checks. */
  heldCount(): number {
    let count = 0;
    for (const state of this.partitions.values()) count += state.progress.heldCount;
    return count;
  }

  private state(partition: number): PartitionState {
    let state = this.partitions.get(partition);
    if (!state) {
      state = {
        progress: new PartitionProgress(),
        held: new Map(),
        lock: Promise.resolve(),
        attempts: 0,
        lastCommitAt: this.now(),
      };
      this.partitions.set(partition, state);
    }
    return state;
  }

  private withLock(partition: number, work: () => Promise<void>): Promise<void> {
    const state = this.state(partition);
    const run = state.lock.then(work);
    state.lock = run.catch(() => undefined);
    return run;
  }

  /** After a rebalance, forgets partitions this member lost: their new owner redelivers from the commit point. */
  private onAssignment(assigned: number[]): void {
    const keep = new Set(assigned);
    for (const [partition, state] of this.partitions) {
      if (keep.has(partition)) continue;
      if (state.resumeTimer) {
        clearTimeout(state.resumeTimer);
        // kafkajs keeps a pause across assignments: undo it, or the partition would stay paused if it came back.
        this.options.consumer.resume([{ topic: this.options.topic, partitions: [partition] }]);
      }
      this.partitions.delete(partition);
      this.options.metrics.heldEvents.remove({ partition: String(partition) });
    }
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    await this.withLock(partition, async () => {
      const state = this.state(partition);
      for (const message of batch.messages) {
        if (this.stopping || !isRunning() || isStale() || state.resumeTimer) break;
        const result = await this.handleMessage(topic, partition, state, message);
        if (result.kind === 'retry') {
          this.pauseForRetry(topic, partition, state, result.error);
          break;
        }
        state.attempts = 0;
        state.progress.seen(message.offset, result.kind === 'gap');
        resolveOffset(message.offset);
        await heartbeat();
      }
      await this.commit(partition, this.stopping);
    });
  }

  private async handleMessage(
    topic: string,
    partition: number,
    state: PartitionState,
    message: KafkaMessage,
  ): Promise<Attempt> {
    // A rebalance redelivers from the commit point, which may be a message this member holds.
    if (state.progress.isHeld(message.offset)) return { kind: 'gap' };
    let envelope: OrderEventEnvelope;
    try {
      envelope = parseEnvelope(message.value ?? Buffer.alloc(0));
    } catch (error) {
      return this.deadLetter(topic, partition, message, toAppError(error), 'unknown');
    }
    const result = await this.attempt(topic, partition, message, envelope);
    if (result.kind === 'gap') this.hold(partition, state, message, envelope);
    if (result.kind === 'done') await this.drain(topic, partition, state, envelope.aggregateId);
    return result;
  }

  /** Processes one parsed event; dead-letters it when it can never succeed. */
  private async attempt(
    topic: string,
    partition: number,
    message: KafkaMessage,
    envelope: OrderEventEnvelope,
  ): Promise<Attempt> {
    const { service, metrics } = this.options;
    const endTimer = metrics.processingDuration.startTimer();
    try {
      const outcome = await service.handle(envelope);
      if (outcome === 'gap') return { kind: 'gap' };
      metrics.eventsProcessed.inc({ event_type: envelope.eventType, outcome });
      if (outcome === 'stored') {
        const occurredAt = Date.parse(envelope.occurredAt);
        // Date.now(): end-to-end latency compares wall clocks of two machines by nature.
        if (Number.isFinite(occurredAt)) metrics.endToEndLatency.observe(Math.max(0, Date.now() - occurredAt) / 1000);
      } else {
        metrics.duplicatesSkipped.inc({ reason: outcome === 'duplicate' ? 'event_id' : 'stale_seq' });
      }
      return { kind: 'done' };
    } catch (error) {
      const appError = toAppError(error);
      if (appError.retriable) return { kind: 'retry', error: appError };
      return this.deadLetter(topic, partition, message, appError, envelope.eventType);
    } finally {
      endTimer();
    }
  }

  private async deadLetter(
    topic: string,
    partition: number,
    message: KafkaMessage,
    error: AppError,
    eventType: string,
    firstFailedAt?: Date,
  ): Promise<Attempt> {
    const { deadLetters, metrics, logger } = this.options;
    const reason = reasonFor(error);
    try {
      await deadLetters.send({ topic, partition, message }, { reason, error, firstFailedAt });
    } catch (sendError) {
      return { kind: 'retry', error: toAppError(sendError) };
    }
    logger.warn({ topic, partition, offset: message.offset, code: error.code, reason }, 'dead-lettered a message');
    metrics.deadLetters.inc({ reason });
    metrics.eventsProcessed.inc({ event_type: eventType, outcome: 'dead_lettered' });
    return { kind: 'done' };
  }

  private hold(partition: number, state: PartitionState, message: KafkaMessage, envelope: OrderEventEnvelope): void {
    const list = state.held.get(envelope.aggregateId) ?? [];
    list.push({ message, envelope, heldAt: this.now(), firstFailedAt: new Date() });
    list.sort((a, b) => a.envelope.seq - b.envelope.seq || Number(BigInt(a.message.offset) - BigInt(b.message.offset)));
    state.held.set(envelope.aggregateId, list);
    this.options.metrics.gapsHeld.inc();
    this.options.metrics.eventsProcessed.inc({ event_type: envelope.eventType, outcome: 'held' });
    this.options.logger.info(
      { partition, offset: message.offset, aggregateId: envelope.aggregateId, seq: envelope.seq },
      'holding an event until the missing seq arrives',
    );
  }

  /** Retries the held events of an aggregate in seq order, as far as its cursor allows. */
  private async drain(topic: string, partition: number, state: PartitionState, aggregateId: string): Promise<void> {
    const list = state.held.get(aggregateId);
    while (list && list.length > 0) {
      const next = list[0];
      const result = await this.attempt(topic, partition, next.message, next.envelope);
      if (result.kind !== 'done') break;
      list.shift();
      state.progress.release(next.message.offset);
    }
    if (list && list.length === 0) state.held.delete(aggregateId);
    this.updateHeldGauge(partition, state);
  }

  /** Retries held events and dead-letters those past the gap timeout; commits what became done. */
  private async sweep(): Promise<void> {
    // A slow sweep (DynamoDB down) must not pile up behind itself.
    if (this.stopping || this.sweeping) return;
    this.sweeping = true;
    try {
      await this.sweepPartitions();
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepPartitions(): Promise<void> {
    const { topic, gapTimeoutMs, logger } = this.options;
    for (const [partition, state] of this.partitions) {
      await this.withLock(partition, async () => {
        if (this.stopping) return;
        for (const aggregateId of [...state.held.keys()]) {
          await this.drain(topic, partition, state, aggregateId);
          const list = state.held.get(aggregateId) ?? [];
          while (list.length > 0 && this.now() - list[0].heldAt >= gapTimeoutMs) {
            const expired = list[0];
            const error = new AppError(
              'event.gap',
              `seq ${expired.envelope.seq} of ${aggregateId} waited ${gapTimeoutMs} ms for an earlier seq that never arrived`,
            );
            const result = await this.deadLetter(
              topic,
              partition,
              expired.message,
              error,
              expired.envelope.eventType,
              expired.firstFailedAt,
            );
            if (result.kind !== 'done') break;
            list.shift();
            state.progress.release(expired.message.offset);
          }
          if (list.length === 0) state.held.delete(aggregateId);
        }
        this.updateHeldGauge(partition, state);
        await this.commit(partition, false);
      }).catch((error: unknown) => logger.warn({ err: error, partition }, 'held-event sweep failed'));
    }
  }

  private pauseForRetry(topic: string, partition: number, state: PartitionState, error: AppError): void {
    const { consumer, backoff, metrics, logger } = this.options;
    state.attempts += 1;
    const delayMs = backoff(state.attempts);
    metrics.transientRetries.inc({ code: error.code });
    logger.warn(
      { partition, code: error.code, attempt: state.attempts, delayMs, err: error.cause ?? error },
      'transient failure; pausing the partition',
    );
    consumer.pause([{ topic, partitions: [partition] }]);
    clearTimeout(state.resumeTimer);
    state.resumeTimer = setTimeout(() => {
      state.resumeTimer = undefined;
      if (!this.stopping) consumer.resume([{ topic, partitions: [partition] }]);
    }, delayMs);
    state.resumeTimer.unref();
  }

  /** Commits the partition's commit point when it moved and the commit interval passed (or `force`). */
  private async commit(partition: number, force: boolean): Promise<void> {
    const state = this.partitions.get(partition);
    const offset = state?.progress.pendingCommit();
    if (!state || offset === undefined) return;
    if (!force && this.now() - state.lastCommitAt < this.options.commitIntervalMs) return;
    try {
      await this.options.consumer.commitOffsets([{ topic: this.options.topic, partition, offset }]);
      state.progress.markCommitted(offset);
      state.lastCommitAt = this.now();
    } catch (error) {
      // Not fatal: the next commit covers it; a lost partition is redelivered and deduplicated.
      this.options.logger.warn({ err: error, partition, offset }, 'offset commit failed');
    }
  }

  private updateHeldGauge(partition: number, state: PartitionState): void {
    this.options.metrics.heldEvents.set({ partition: String(partition) }, state.progress.heldCount);
  }
}
