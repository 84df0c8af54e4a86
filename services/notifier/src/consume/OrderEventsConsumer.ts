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
  /** Partitions whose fetched batches are taken at the same time. */
  partitionConcurrency: number;
  /** Events of one partition processed at the same time (each key stays sequential). */
  maxInFlight: number;
  /**
   * How long a batch waits for a free slot when the partition is at `maxInFlight` before it
   * pauses the partition instead (a pause costs a fetch round trip; a long wait delays the other
   * partitions' next fetch).
   */
  slotWaitMs: number;
  /** Commit at most this often per partition; 0 commits whenever the commit point moves. */
  commitIntervalMs: number;
  /** How long a held event waits for the missing seq before it is dead-lettered as `gap`. */
  gapTimeoutMs: number;
  /** How often held events are checked against the gap timeout (and the first retry delay of a held aggregate). */
  gapRecheckMs: number;
  /** Delay before the n-th retry of a held aggregate by the sweep. */
  recheckBackoff: (attempt: number) => number;
  /** Most events held per partition (counting those in flight, which may become held); at the cap the partition is paused. */
  heldMaxEvents: number;
  /** Most bytes (keys and values) held per partition, in flight counted; at the cap the partition is paused. */
  heldMaxBytes: number;
  /** Pause before the n-th consecutive retry of an event after a transient error. */
  backoff: (attempt: number) => number;
  /** Monotonic milliseconds for timeouts and intervals; injectable for tests. */
  now?: () => number;
  /**
   * Called when a message can neither be processed nor dead-lettered (the dead-letter topic
   * refuses it for good), or on an unexpected error: the message stays uncommitted and the
   * process should exit non-zero.
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

/** A message taken from a batch and not finished yet. */
interface Taken {
  message: KafkaMessage;
  bytes: number;
}

/** The messages of one Kafka key, processed one at a time in offset order. */
interface Lane {
  queue: Taken[];
  busy: boolean;
}

interface PartitionState {
  partition: number;
  progress: PartitionProgress;
  /** One lane per key with work queued or running; removed when idle. */
  lanes: Map<string, Lane>;
  /** Taken, neither finished nor held (running or queued in a lane). */
  inFlight: number;
  inFlightBytes: number;
  held: Map<string, HeldAggregate>;
  heldBytes: number;
  /** Paused by this consumer (in-flight bound or held cap); resumed when there is room again. */
  paused: boolean;
  /** Lost in a rebalance: its work is abandoned and it never commits again. */
  revoked: boolean;
  /** Batches waiting for a free slot. */
  slotWaiters: Set<() => void>;
  /** Retry delays of its lanes, cut short by a stop or a revocation. */
  sleepers: Set<() => void>;
  committing?: Promise<void>;
  /** A commit put off by the commit interval, due when it has passed. */
  commitTimer?: NodeJS.Timeout;
  commitWanted: boolean;
  commitForced: boolean;
  lastCommitAt: number;
}

type Attempt = { kind: 'done' } | { kind: 'gap' } | { kind: 'retry'; error: AppError };

/** How long a retriable error asks to wait (a webhook's Retry-After), 0 when it does not say. */
function retryAfterOf(error: AppError): number {
  const value = error.details?.retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** The lane of a message: its Kafka key (the aggregate id); keyless messages share one lane. */
function laneKeyOf(message: KafkaMessage): string {
  return message.key === null ? '\u0000keyless' : `k:${message.key.toString('latin1')}`;
}

/**
 * Consumes order events in a consumer group and turns each into its effects exactly once.
 *
 * - Parallel by key: within a partition, events of different keys (aggregate ids) run
 *   concurrently, at most `maxInFlight` per partition; events of one key run strictly one after
 *   the other in offset order (a queue per key), and the inbox cursor enforces `seq` order on top.
 * - Offsets are committed by hand, only up to the lowest offset not yet done (in flight, queued
 *   or held), so a crash or a stop redelivers unfinished work and the inbox turns whatever was
 *   done already into a counted no-op.
 * - Backpressure: at `maxInFlight` the batch waits briefly for a free slot, then pauses the
 *   partition (no more fetching) until a slot frees; nothing is buffered beyond the fetched batch.
 * - An event that skips ahead is held (its key goes on) and retried whenever its aggregate moves
 *   and by a sweep that backs off per aggregate; after the gap timeout it is dead-lettered with
 *   reason `gap`. Held events are capped per partition (count and bytes, in-flight events counted
 *   as they may become held): at the cap the partition is paused until some are released.
 * - A permanent failure goes to `<topic>.dlq` and the key goes on; a transient one makes only
 *   that key wait, with capped exponential backoff (or a longer Retry-After), and retries it.
 * - A partition lost in a rebalance is forgotten: its running work may finish but never commits;
 *   the new owner redelivers from the commit point.
 */
export class OrderEventsConsumer {
  private readonly options: OrderEventsConsumerOptions;
  private readonly now: () => number;
  private readonly partitions = new Map<number, PartitionState>();
  /** Running lanes, awaited by `stop`. */
  private readonly runs = new Set<Promise<void>>();
  private sweepTimer?: NodeJS.Timeout;
  private sweepRun?: Promise<void>;
  private stopping = false;

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
      if (this.stopping) return;
      // Fetched from the partition's position, which is always where this member took up to.
      const state = this.state(payload.partition);
      state.progress.pass(payload.lastOffset);
      void this.commit(state, false);
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionConcurrency,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.sweepTimer = setInterval(() => this.sweep(), this.options.gapRecheckMs);
    this.sweepTimer.unref();
  }

  /**
   * Lets running events finish (queued and retrying ones are abandoned and stay uncommitted),
   * commits the finished prefix of each partition, and leaves the group. Call once.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweepTimer);
    for (const state of this.partitions.values()) this.interrupt(state);
    while (this.runs.size > 0) await Promise.all([...this.runs]);
    await this.sweepRun;
    await Promise.all([...this.partitions.values()].map((state) => this.commit(state, true)));
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
        partition,
        progress: new PartitionProgress(),
        lanes: new Map(),
        inFlight: 0,
        inFlightBytes: 0,
        held: new Map(),
        heldBytes: 0,
        paused: false,
        revoked: false,
        slotWaiters: new Set(),
        sleepers: new Set(),
        commitWanted: false,
        commitForced: false,
        lastCommitAt: this.now(),
      };
      this.partitions.set(partition, state);
      // The held-events series exists (at 0) from the partition's first batch, not from its first gap.
      this.updateHeldGauge(state);
    }
    return state;
  }

  /** Wakes the partition's waiting batches and cuts its retry delays short (stop or revocation). */
  private interrupt(state: PartitionState): void {
    clearTimeout(state.commitTimer);
    for (const wake of [...state.slotWaiters]) wake();
    for (const cancel of [...state.sleepers]) cancel();
  }

  /**
   * After a rebalance, forgets partitions this member lost: their running work may still finish
   * (the inbox makes a repeat by the new owner harmless) but never commits.
   */
  private onAssignment(assigned: number[]): void {
    const keep = new Set(assigned);
    for (const [partition, state] of this.partitions) {
      if (keep.has(partition)) continue;
      state.revoked = true;
      this.interrupt(state);
      // kafkajs keeps a pause across assignments: undo it, or the partition would stay paused if it came back.
      if (state.paused) this.options.consumer.resume([{ topic: this.options.topic, partitions: [partition] }]);
      this.partitions.delete(partition);
      this.options.metrics.heldEvents.remove({ partition: String(partition) });
    }
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const state = this.state(batch.partition);
    const stale = () => this.stopping || !isRunning() || isStale() || state.revoked;
    for (const message of batch.messages) {
      if (stale()) return;
      // A rebalance redelivers from the commit point: what was taken before is running, held or done.
      if (!state.progress.isTaken(message.offset)) {
        const bytes = (message.value?.length ?? 0) + (message.key?.length ?? 0);
        while (this.blocked(state, bytes)) {
          // Something in flight will finish soon: wait for it rather than pay a pause and a fetch.
          const freed = state.inFlight > 0 && (await this.waitForSlot(state));
          if (stale()) return;
          if (!freed) {
            this.pause(state);
            await heartbeat();
            return;
          }
          await heartbeat();
        }
        state.progress.take(message.offset);
        this.dispatch(state, message, bytes);
      }
      resolveOffset(message.offset);
    }
    // The batch may end in commit markers (its last offset counts them): done with them too.
    if (!batch.isEmpty()) state.progress.pass(batch.lastOffset());
    await heartbeat();
  }

  /**
   * Whether a message of `bytes` must wait: the partition is at its in-flight bound, or taking it
   * could push the held events past their cap if everything in flight ended up held. One event
   * always fits, so a single large event can never stall the partition.
   */
  private blocked(state: PartitionState, bytes: number): boolean {
    const { maxInFlight, heldMaxEvents, heldMaxBytes } = this.options;
    if (state.inFlight >= maxInFlight) return true;
    const waiting = state.progress.heldCount + state.inFlight;
    return waiting > 0 && (waiting + 1 > heldMaxEvents || state.heldBytes + state.inFlightBytes + bytes > heldMaxBytes);
  }

  /** Resolves true when an in-flight event finishes or is held, false after `slotWaitMs` (or on stop). */
  private waitForSlot(state: PartitionState): Promise<boolean> {
    return new Promise((resolve) => {
      const settle = (freed: boolean) => {
        clearTimeout(timer);
        state.slotWaiters.delete(wake);
        resolve(freed);
      };
      const wake = () => settle(true);
      const timer = setTimeout(() => settle(false), this.options.slotWaitMs);
      timer.unref();
      state.slotWaiters.add(wake);
    });
  }

  private pause(state: PartitionState): void {
    if (state.paused) return;
    state.paused = true;
    const { logger, consumer, topic } = this.options;
    if (state.progress.heldCount > 0) {
      logger.warn(
        { partition: state.partition, held: state.progress.heldCount, heldBytes: state.heldBytes },
        'held events at the cap; pausing the partition until some are released',
      );
    } else {
      logger.debug({ partition: state.partition, inFlight: state.inFlight }, 'in-flight bound reached; pausing');
    }
    consumer.pause([{ topic, partitions: [state.partition] }]);
  }

  /** After an event finished, was held or released: wake waiting batches, resume, commit. */
  private afterChange(state: PartitionState): void {
    if (state.revoked) return;
    for (const wake of [...state.slotWaiters]) wake();
    if (state.paused && !this.stopping && !this.blocked(state, 0)) {
      state.paused = false;
      if (state.progress.heldCount > 0) {
        this.options.logger.info(
          { partition: state.partition, held: state.progress.heldCount },
          'held events below the cap; resuming the partition',
        );
      }
      this.options.consumer.resume([{ topic: this.options.topic, partitions: [state.partition] }]);
    }
    void this.commit(state, false);
  }

  private dispatch(state: PartitionState, message: KafkaMessage, bytes: number): void {
    state.inFlight += 1;
    state.inFlightBytes += bytes;
    const key = laneKeyOf(message);
    let lane = state.lanes.get(key);
    if (!lane) {
      lane = { queue: [], busy: false };
      state.lanes.set(key, lane);
    }
    lane.queue.push({ message, bytes });
    if (!lane.busy) void this.runLane(state, key, lane);
  }

  /**
   * Runs a lane: first `first` (a sweep's work on a held aggregate of this key), then its queued
   * messages one by one. Resolves once `first` is done; the rest runs on, awaited by `stop`.
   */
  private runLane(state: PartitionState, key: string, lane: Lane, first?: () => Promise<void>): Promise<void> {
    lane.busy = true;
    let firstDone: () => void = () => undefined;
    const firstFinished = new Promise<void>((resolve) => {
      firstDone = resolve;
    });
    const run = (async () => {
      try {
        if (first) await first();
        firstDone();
        while (lane.queue.length > 0 && !this.stopping && !state.revoked) {
          const next = lane.queue.shift() as Taken;
          await this.process(state, next);
        }
      } catch (error) {
        // A bug, not an event's fault: the event stays uncommitted and the process restarts.
        const failure = toAppError(error);
        this.options.logger.error(
          { partition: state.partition, err: error },
          'unexpected error in a key lane; stopping',
        );
        this.options.onFatal?.(failure);
      } finally {
        firstDone();
        lane.busy = false;
        // Queued work of a stopped or revoked partition is abandoned: it stays uncommitted.
        if (state.lanes.get(key) === lane && (lane.queue.length === 0 || this.stopping || state.revoked)) {
          state.lanes.delete(key);
        }
      }
    })();
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
    return firstFinished;
  }

  /** Processes one taken message, retrying it (its key waits) while it fails transiently. */
  private async process(state: PartitionState, taken: Taken): Promise<void> {
    const { backoff, metrics, logger } = this.options;
    let attempts = 0;
    for (;;) {
      const result = await this.handleMessage(state, taken);
      if (result.kind !== 'retry' || this.stopping || state.revoked) return;
      attempts += 1;
      const delayMs = Math.max(backoff(attempts), retryAfterOf(result.error));
      metrics.transientRetries.inc({ code: result.error.code });
      logger.warn(
        {
          partition: state.partition,
          offset: taken.message.offset,
          code: result.error.code,
          attempt: attempts,
          delayMs,
          err: result.error.cause ?? result.error,
        },
        'transient failure; the event is retried while its key waits',
      );
      // Cut short by a stop or a revocation: the event is abandoned and stays uncommitted.
      if (!(await this.delay(state, delayMs))) return;
    }
  }

  private delay(state: PartitionState, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const settle = (elapsed: boolean) => {
        clearTimeout(timer);
        state.sleepers.delete(cancel);
        resolve(elapsed);
      };
      const cancel = () => settle(false);
      const timer = setTimeout(() => settle(true), ms);
      timer.unref();
      state.sleepers.add(cancel);
    });
  }

  private async handleMessage(state: PartitionState, taken: Taken): Promise<Attempt> {
    const { topic } = this.options;
    const { partition } = state;
    const { message, bytes } = taken;
    let envelope: OrderEventEnvelope;
    try {
      envelope = parseEnvelope(message.value ?? Buffer.alloc(0));
    } catch (error) {
      const result = await this.deadLetter(topic, partition, message, toAppError(error), 'unknown');
      if (result.kind === 'done') this.finishTaken(state, taken);
      return result;
    }
    const result = await this.attempt(topic, partition, message, envelope);
    if (result.kind === 'gap') this.hold(state, message, envelope, bytes);
    if (result.kind === 'done') {
      this.finishTaken(state, taken);
      await this.drain(topic, partition, state, envelope.aggregateId, false);
    }
    return result;
  }

  private finishTaken(state: PartitionState, taken: Taken): void {
    state.inFlight -= 1;
    state.inFlightBytes -= taken.bytes;
    state.progress.finish(taken.message.offset);
    this.afterChange(state);
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
        // Retrying would block the key for good while looking busy: stop loudly instead,
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

  /** Moves a taken event from in flight to held: its key goes on, the commit point stays at it. */
  private hold(state: PartitionState, message: KafkaMessage, envelope: OrderEventEnvelope, bytes: number): void {
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
    state.inFlight -= 1;
    state.inFlightBytes -= bytes;
    state.heldBytes += bytes;
    state.progress.hold(message.offset);
    this.options.metrics.gapsHeld.inc();
    this.options.metrics.eventsProcessed.inc({ event_type: eventTypeLabel(envelope.eventType), outcome: 'held' });
    this.options.logger.info(
      { partition: state.partition, offset: message.offset, aggregateId: envelope.aggregateId, seq: envelope.seq },
      'holding an event until the missing seq arrives',
    );
    this.updateHeldGauge(state);
    this.afterChange(state);
  }

  /**
   * Retries the held events of an aggregate in seq order, as far as its cursor allows. A sweep
   * that leaves some held backs the aggregate off (`recheckBackoff`, or a longer Retry-After).
   * Runs in the lane of the aggregate's key, so never beside another event of that key.
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
    while (list.length > 0 && !state.revoked) {
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
  }

  /** Forgets a held event that is now done (handled or dead-lettered). */
  private release(state: PartitionState, aggregateId: string, event: HeldEvent): void {
    const aggregate = state.held.get(aggregateId);
    if (aggregate && aggregate.events[0] === event) aggregate.events.shift();
    if (aggregate && aggregate.events.length === 0) state.held.delete(aggregateId);
    state.heldBytes -= event.bytes;
    state.progress.finish(event.message.offset);
    this.updateHeldGauge(state);
    this.afterChange(state);
  }

  /** Retries due held events and dead-letters those past the gap timeout; commits what became done. */
  private sweep(): void {
    // A slow sweep (DynamoDB down) must not pile up behind itself.
    if (this.stopping || this.sweepRun) return;
    this.sweepRun = this.sweepPartitions().finally(() => {
      this.sweepRun = undefined;
    });
  }

  private async sweepPartitions(): Promise<void> {
    const { topic, gapTimeoutMs } = this.options;
    for (const state of [...this.partitions.values()]) {
      // Oldest first, so letters of aggregates that expire together leave in offset order.
      const aggregates = [...state.held].sort(([, a], [, b]) =>
        Number(BigInt(a.events[0].message.offset) - BigInt(b.events[0].message.offset)),
      );
      for (const [aggregateId, aggregate] of aggregates) {
        if (this.stopping || state.revoked) return;
        const head = aggregate.events[0];
        if (head === undefined) continue;
        const now = this.now();
        const expired = head.last === 'gap' && now - head.heldAt >= gapTimeoutMs;
        if (now < aggregate.nextCheckAt && !expired) continue;
        const key = laneKeyOf(head.message);
        let lane = state.lanes.get(key);
        // A busy lane drains the aggregate itself after its current event; the next sweep looks again.
        if (lane?.busy) continue;
        if (!lane) {
          lane = { queue: [], busy: false };
          state.lanes.set(key, lane);
        }
        await this.runLane(state, key, lane, async () => {
          // An expiring event gets one last try first, so a gap letter always follows a fresh check.
          await this.drain(topic, state.partition, state, aggregateId, true);
          await this.expire(topic, state, aggregateId);
        });
      }
      if (!state.revoked) void this.commit(state, false);
    }
  }

  /** Dead-letters, as `gap`, the aggregate's leading events that still wait for an earlier seq past the timeout. */
  private async expire(topic: string, state: PartitionState, aggregateId: string): Promise<void> {
    const { gapTimeoutMs } = this.options;
    const list = state.held.get(aggregateId)?.events ?? [];
    while (list.length > 0 && list[0].last === 'gap' && this.now() - list[0].heldAt >= gapTimeoutMs) {
      if (state.revoked) return;
      const expired = list[0];
      const error = new AppError(
        'event.gap',
        `seq ${expired.envelope.seq} of ${aggregateId} waited ${gapTimeoutMs} ms for an earlier seq that never arrived`,
      );
      const result = await this.deadLetter(
        topic,
        state.partition,
        expired.message,
        error,
        expired.envelope.eventType,
        expired.firstFailedAt,
      );
      if (result.kind !== 'done') break;
      this.release(state, aggregateId, expired);
      // What followed the expired event may now be in order (or a gap of its own, timed from its own hold).
      await this.drain(topic, state.partition, state, aggregateId, false);
    }
  }

  /**
   * Commits the partition's commit point when it moved and the commit interval passed (or
   * `force`). One commit at a time per partition; requests meanwhile coalesce into the next one.
   * A revoked partition never commits again.
   */
  private commit(state: PartitionState, force: boolean): Promise<void> {
    state.commitWanted = true;
    state.commitForced ||= force;
    state.committing ??= this.commitLoop(state).finally(() => {
      state.committing = undefined;
    });
    return state.committing;
  }

  private async commitLoop(state: PartitionState): Promise<void> {
    const { consumer, topic, commitIntervalMs, logger } = this.options;
    while (state.commitWanted) {
      const force = state.commitForced;
      state.commitWanted = false;
      state.commitForced = false;
      if (state.revoked) return;
      const offset = state.progress.pendingCommit();
      if (offset === undefined) continue;
      const dueIn = state.lastCommitAt + commitIntervalMs - this.now();
      if (!force && dueIn > 0) {
        // Commit once the interval has passed, even when nothing else happens by then.
        state.commitTimer ??= setTimeout(() => {
          state.commitTimer = undefined;
          void this.commit(state, false);
        }, dueIn);
        state.commitTimer.unref();
        continue;
      }
      clearTimeout(state.commitTimer);
      state.commitTimer = undefined;
      try {
        await consumer.commitOffsets([{ topic, partition: state.partition, offset }]);
        state.progress.markCommitted(offset);
        state.lastCommitAt = this.now();
      } catch (error) {
        // Not fatal: the next commit covers it; a lost partition is redelivered and deduplicated.
        logger.warn({ err: error, partition: state.partition, offset }, 'offset commit failed');
      }
    }
  }

  private updateHeldGauge(state: PartitionState): void {
    if (state.revoked) return;
    this.options.metrics.heldEvents.set({ partition: String(state.partition) }, state.progress.heldCount);
  }
}
