import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import {
  AppError,
  eventTypeLabel,
  DEAD_LETTER_HEADERS,
  parseEnvelope,
  toAppError,
  type DeadLetterReason,
  type Logger,
  type OrderEventEnvelope,
} from '@outbox/shared';
import type { NotificationService } from '../notify/NotificationService';
import type { DeadLetterPublisher } from '../deadLetter/DeadLetterPublisher';
import type { NotifierMetrics } from './notifierMetrics';
import { PartitionProgress } from './PartitionProgress';
import { inProcessSpan } from './processSpan';

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
  /** How often held events are checked against the gap timeout (and the first retry delay of a held aggregate). */
  gapRecheckMs: number;
  /** Delay before the n-th retry of a held aggregate by the sweep. */
  recheckBackoff: (attempt: number) => number;
  /** Most events held per partition; at the cap the partition is paused until some are released. */
  heldMaxEvents: number;
  /** Most bytes (keys and values) held per partition; at the cap the partition is paused. */
  heldMaxBytes: number;
  /** Pause before the n-th consecutive retry of a partition after a transient error. */
  backoff: (attempt: number) => number;
  /** Monotonic milliseconds for timeouts and intervals; injectable for tests. */
  now?: () => number;
  /**
   * Called when a message can neither be processed nor dead-lettered (the dead-letter topic
   * refuses it for good): the message stays uncommitted and the process should exit non-zero.
   */
  onFatal?: (error: AppError) => void;
}

/**
 * An event waiting for an earlier seq of its aggregate (`gap`), or one whose last try failed
 * transiently after it left the gap (`retry`: say, stored but its webhook failed). Only a `gap`
 * event is ever dead-lettered as `gap`.
 */
interface HeldEvent {
  message: KafkaMessage;
  envelope: OrderEventEnvelope;
  heldAt: number;
  firstFailedAt: Date;
  bytes: number;
  last: 'gap' | 'retry';
}

/** The held events of one aggregate, in seq order, and when the sweep tries them next. */
interface HeldAggregate {
  events: HeldEvent[];
  checks: number;
  nextCheckAt: number;
}

interface PartitionState {
  progress: PartitionProgress;
  held: Map<string, HeldAggregate>;
  heldBytes: number;
  /** Paused because the held events reached the cap; resumed when they drop below it. */
  heldFull: boolean;
  /** Serializes the partition's batches with the sweep of its held events. */
  lock: Promise<void>;
  attempts: number;
  resumeTimer?: NodeJS.Timeout;
  lastCommitAt: number;
}

type Attempt = { kind: 'done' } | { kind: 'gap' } | { kind: 'full' } | { kind: 'retry'; error: AppError };

/** How long a retriable error asks to wait (a webhook's Retry-After), 0 when it does not say. */
function retryAfterOf(error: AppError): number {
  const value = error.details?.retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/**
 * Consumes order events in a consumer group and turns each into its effects exactly once.
 *
 * - Offsets are committed by hand, only up to the lowest message not yet done, so a crash
 *   redelivers and the inbox turns the redelivery into a counted no-op.
 * - Partitions are processed concurrently, each strictly in offset order; one aggregate lives
 *   on one partition, and the inbox cursor enforces `seq` order on top.
 * - An event that skips ahead is held (the partition goes on) and retried whenever its aggregate
 *   moves and by a sweep that backs off per aggregate; after the gap timeout it is dead-lettered
 *   with reason `gap`. Held events are capped per partition (count and bytes): at the cap the
 *   partition is paused until some are released, so memory stays bounded.
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
    // A batch of commit (or abort) markers only never reaches eachBatch; move past it like Kafka's
    // own consumer does, or the committed offset stops one short of the end of a transactional topic.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic !== topic || payload.batchSize !== 0 || payload.firstOffset === null) return;
      void this.withLock(payload.partition, () => this.passMarkers(payload.partition, payload.lastOffset)).catch(
        (error: unknown) =>
          this.options.logger.warn({ err: error, partition: payload.partition }, 'offset commit failed'),
      );
    });
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
        heldBytes: 0,
        heldFull: false,
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
      if (state.resumeTimer || state.heldFull) {
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
      let handledAll = true;
      for (const message of batch.messages) {
        if (this.stopping || !isRunning() || isStale() || state.resumeTimer || state.heldFull) {
          handledAll = false;
          break;
        }
        const result = await this.handleMessage(topic, partition, state, message);
        if (result.kind === 'retry') {
          this.pauseForRetry(topic, partition, state, result.error);
          handledAll = false;
          break;
        }
        if (result.kind === 'full') {
          this.pauseForHeldCap(topic, partition, state);
          handledAll = false;
          break;
        }
        state.attempts = 0;
        state.progress.seen(message.offset, result.kind === 'gap');
        resolveOffset(message.offset);
        await heartbeat();
      }
      // The batch may end in commit markers (its last offset counts them): done with them too.
      if (handledAll && !batch.isEmpty()) state.progress.seen(batch.lastOffset());
      await this.commit(partition, this.stopping);
    });
  }

  /** A fetched batch held only control records (or aborted ones) up to `lastOffset`: nothing to handle. */
  private async passMarkers(partition: number, lastOffset: string): Promise<void> {
    const state = this.state(partition);
    if (this.stopping || state.resumeTimer || state.heldFull) return;
    state.progress.seen(lastOffset);
    await this.commit(partition, false);
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
    if (result.kind === 'gap') {
      const bytes = (message.value?.length ?? 0) + (message.key?.length ?? 0);
      // Always room for one, so a single large event can never stall the partition.
      const full =
        state.progress.heldCount > 0 &&
        (state.progress.heldCount >= this.options.heldMaxEvents || state.heldBytes + bytes > this.options.heldMaxBytes);
      if (full) return { kind: 'full' };
      this.hold(partition, state, message, envelope, bytes);
    }
    if (result.kind === 'done') await this.drain(topic, partition, state, envelope.aggregateId, false);
    return result;
  }

  /** Processes one parsed event in a consumer span of its trace; dead-letters it when it can never succeed. */
  private attempt(
    topic: string,
    partition: number,
    message: KafkaMessage,
    envelope: OrderEventEnvelope,
  ): Promise<Attempt> {
    return inProcessSpan({ topic, partition, message, envelope }, async (span) => {
      const result = await this.attemptInSpan(topic, partition, message, envelope);
      span.setAttribute('order.outcome', result.kind === 'retry' ? `retry:${result.error.code}` : result.kind);
      return result;
    });
  }

  private async attemptInSpan(
    topic: string,
    partition: number,
    message: KafkaMessage,
    envelope: OrderEventEnvelope,
  ): Promise<Attempt> {
    const { service, metrics } = this.options;
    const endTimer = metrics.processingDuration.startTimer();
    try {
      const redriven = message.headers?.[DEAD_LETTER_HEADERS.redriveCount] !== undefined;
      const outcome = await service.handle(envelope, { redriven });
      if (outcome === 'gap') return { kind: 'gap' };
      metrics.eventsProcessed.inc({ event_type: eventTypeLabel(envelope.eventType), outcome });
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
    let reason: DeadLetterReason;
    try {
      reason = await deadLetters.send({ topic, partition, message }, { error, firstFailedAt });
    } catch (sendError) {
      const failure = toAppError(sendError);
      if (!failure.retriable) {
        // Retrying would block the partition for good while looking busy: stop loudly instead,
        // with the message uncommitted, so a restart (or a fixed topic) processes it again.
        logger.error(
          { topic, partition, offset: message.offset, code: error.code, err: failure },
          'the dead-letter topic refused a letter for good; stopping',
        );
        this.options.onFatal?.(failure);
      }
      return { kind: 'retry', error: failure };
    }
    logger.warn({ topic, partition, offset: message.offset, code: error.code, reason }, 'dead-lettered a message');
    metrics.deadLetters.inc({ reason });
    metrics.eventsProcessed.inc({ event_type: eventTypeLabel(eventType), outcome: 'dead_lettered' });
    return { kind: 'done' };
  }

  private hold(
    partition: number,
    state: PartitionState,
    message: KafkaMessage,
    envelope: OrderEventEnvelope,
    bytes: number,
  ): void {
    const now = this.now();
    const aggregate = state.held.get(envelope.aggregateId) ?? {
      events: [],
      checks: 1,
      nextCheckAt: now + this.options.recheckBackoff(1),
    };
    const list = aggregate.events;
    list.push({ message, envelope, heldAt: now, firstFailedAt: new Date(), bytes, last: 'gap' });
    list.sort((a, b) => a.envelope.seq - b.envelope.seq || Number(BigInt(a.message.offset) - BigInt(b.message.offset)));
    state.held.set(envelope.aggregateId, aggregate);
    state.heldBytes += bytes;
    state.progress.seen(message.offset, true);
    this.options.metrics.gapsHeld.inc();
    this.options.metrics.eventsProcessed.inc({ event_type: eventTypeLabel(envelope.eventType), outcome: 'held' });
    this.options.logger.info(
      { partition, offset: message.offset, aggregateId: envelope.aggregateId, seq: envelope.seq },
      'holding an event until the missing seq arrives',
    );
  }

  /**
   * Retries the held events of an aggregate in seq order, as far as its cursor allows. A sweep
   * that leaves some held backs the aggregate off (`recheckBackoff`, or a longer Retry-After).
   */
  private async drain(
    topic: string,
    partition: number,
    state: PartitionState,
    aggregateId: string,
    bySweep: boolean,
  ): Promise<void> {
    const aggregate = state.held.get(aggregateId);
    if (!aggregate) return;
    const list = aggregate.events;
    let waitMs = 0;
    while (list.length > 0) {
      const next = list[0];
      const result = await this.attempt(topic, partition, next.message, next.envelope);
      if (result.kind === 'retry') {
        next.last = 'retry';
        waitMs = retryAfterOf(result.error);
        this.options.metrics.transientRetries.inc({ code: result.error.code });
      }
      if (result.kind === 'gap') next.last = 'gap';
      if (result.kind !== 'done') break;
      this.release(state, aggregateId, next);
    }
    if (list.length > 0 && bySweep) {
      aggregate.checks += 1;
      aggregate.nextCheckAt = this.now() + Math.max(this.options.recheckBackoff(aggregate.checks), waitMs);
    }
    this.afterRelease(topic, partition, state);
  }

  /** Forgets a held event that is now done (handled or dead-lettered). */
  private release(state: PartitionState, aggregateId: string, event: HeldEvent): void {
    const aggregate = state.held.get(aggregateId);
    if (aggregate && aggregate.events[0] === event) aggregate.events.shift();
    if (aggregate && aggregate.events.length === 0) state.held.delete(aggregateId);
    state.heldBytes -= event.bytes;
    state.progress.release(event.message.offset);
  }

  /** Updates the gauge and resumes a partition paused at the held cap once it is below the cap. */
  private afterRelease(topic: string, partition: number, state: PartitionState): void {
    this.updateHeldGauge(partition, state);
    const { heldMaxEvents, heldMaxBytes, consumer, logger } = this.options;
    if (!state.heldFull || state.progress.heldCount >= heldMaxEvents || state.heldBytes >= heldMaxBytes) return;
    state.heldFull = false;
    if (this.stopping || state.resumeTimer) return;
    logger.info({ partition, held: state.progress.heldCount }, 'held events below the cap; resuming the partition');
    consumer.resume([{ topic, partitions: [partition] }]);
  }

  /** Retries due held events and dead-letters those past the gap timeout; commits what became done. */
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
        for (const [aggregateId, aggregate] of [...state.held]) {
          const now = this.now();
          const head = aggregate.events[0];
          const expired = head !== undefined && head.last === 'gap' && now - head.heldAt >= gapTimeoutMs;
          // An expiring event gets one last try first, so a gap letter always follows a fresh check.
          if (now >= aggregate.nextCheckAt || expired) await this.drain(topic, partition, state, aggregateId, true);
          await this.expire(topic, partition, state, aggregateId);
        }
        this.afterRelease(topic, partition, state);
        await this.commit(partition, false);
      }).catch((error: unknown) => logger.warn({ err: error, partition }, 'held-event sweep failed'));
    }
  }

  /** Dead-letters, as `gap`, the aggregate's leading events that still wait for an earlier seq past the timeout. */
  private async expire(topic: string, partition: number, state: PartitionState, aggregateId: string): Promise<void> {
    const { gapTimeoutMs } = this.options;
    const list = state.held.get(aggregateId)?.events ?? [];
    while (list.length > 0 && list[0].last === 'gap' && this.now() - list[0].heldAt >= gapTimeoutMs) {
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
      this.release(state, aggregateId, expired);
      // What followed the expired event may now be in order (or a gap of its own, timed from its own hold).
      await this.drain(topic, partition, state, aggregateId, false);
    }
  }

  /** Pauses a partition whose held events reached the cap; a sweep resumes it. */
  private pauseForHeldCap(topic: string, partition: number, state: PartitionState): void {
    state.heldFull = true;
    this.options.logger.warn(
      { partition, held: state.progress.heldCount, heldBytes: state.heldBytes },
      'held events at the cap; pausing the partition until some are released',
    );
    this.options.consumer.pause([{ topic, partitions: [partition] }]);
  }

  private pauseForRetry(topic: string, partition: number, state: PartitionState, error: AppError): void {
    const { consumer, backoff, metrics, logger } = this.options;
    state.attempts += 1;
    const delayMs = Math.max(backoff(state.attempts), retryAfterOf(error));
    metrics.transientRetries.inc({ code: error.code });
    logger.warn(
      { partition, code: error.code, attempt: state.attempts, delayMs, err: error.cause ?? error },
      'transient failure; pausing the partition',
    );
    consumer.pause([{ topic, partitions: [partition] }]);
    clearTimeout(state.resumeTimer);
    state.resumeTimer = setTimeout(() => {
      state.resumeTimer = undefined;
      if (!this.stopping && !state.heldFull) consumer.resume([{ topic, partitions: [partition] }]);
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
