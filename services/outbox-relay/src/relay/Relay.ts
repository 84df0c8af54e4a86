import { toAppError, type Logger } from '@outbox/shared';
import type { CheckpointStore, ShardCheckpoint } from '../checkpoint/CheckpointStore';
import type { DynamoDbStreamSource } from '../source/DynamoDbStreamSource';
import type { StreamShard } from '../source/StreamShard';
import type { DeadLetter, KafkaPublisher, OutgoingEvent } from '../publish/KafkaPublisher';
import type { RelayMetrics } from './relayMetrics';
import { toOutgoing } from './toOutgoing';

/** Options for {@link Relay}. */
export interface RelayOptions {
  source: DynamoDbStreamSource;
  checkpoints: CheckpointStore;
  publisher: KafkaPublisher;
  metrics: RelayMetrics;
  logger: Logger;
  batchSize: number;
  /** Longest pause when every shard is idle. */
  pollIdleMaxMs: number;
  /** How often the shard list is refreshed to find new shards. */
  shardRefreshMs?: number;
  now?: () => number;
}

interface ShardState {
  shard: StreamShard;
  checkpoint: ShardCheckpoint;
  iterator?: string;
}

/**
 * Moves outbox events from the stream to Kafka: per shard, read a batch, publish it, and only
 * after Kafka acknowledged it move the shard's checkpoint. A failure leaves the checkpoint where
 * it was, and the shard is re-read from there.
 */
export class Relay {
  private readonly options: RelayOptions;
  private readonly shards = new Map<string, ShardState>();
  private running?: Promise<void>;
  private stopping = false;
  private wake?: () => void;
  private lastShardRefresh = -Infinity;

  constructor(options: RelayOptions) {
    this.options = options;
  }

  /** Starts the polling loop in the background. */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stops after the batch in flight is published and checkpointed. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    let idleDelay = 0;
    while (!this.stopping) {
      let progressed = false;
      try {
        progressed = await this.pollOnce();
      } catch (error) {
        this.options.logger.warn({ err: error }, 'poll failed; retrying from the last checkpoint');
        for (const state of this.shards.values()) state.iterator = undefined;
      }
      // Re-poll at once while records flow; back off to a bounded pause when idle.
      idleDelay = progressed ? 0 : Math.min(this.options.pollIdleMaxMs, Math.max(10, idleDelay * 2));
      if (idleDelay > 0) await this.pause(idleDelay);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
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
      if (this.shards.has(shard.shardId)) {
        (this.shards.get(shard.shardId) as ShardState).shard = shard;
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
    const { source, publisher, metrics, logger } = this.options;
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
    const events: OutgoingEvent[] = [];
    const letters: DeadLetter[] = [];
    for (const record of batch.records) {
      metrics.recordsRead.inc({ event_name: record.eventName });
      const disposition = toOutgoing(record);
      if (disposition.kind === 'publish') events.push(disposition.event);
      else if (disposition.kind === 'deadLetter') letters.push(disposition.letter);
      else metrics.recordsIgnored.inc({ event_name: disposition.reason });
    }
    if (batch.records.length > 0) {
      metrics.batchSize.observe(batch.records.length);
      const endTimer = metrics.publishDuration.startTimer();
      await publisher.publish(events);
      endTimer();
      await publisher.deadLetter(letters);
      for (const event of events) metrics.recordsPublished.inc({ event_type: event.envelope.eventType });
      for (const letter of letters) {
        metrics.recordsDeadLettered.inc({ reason: letter.errorCode });
        logger.warn({ shardId, sequenceNumber: letter.sequenceNumber, code: letter.errorCode }, 'record dead-lettered');
      }
      const newest = events.at(-1);
      if (newest) {
        const lag = ((this.options.now ?? Date.now)() - Date.parse(newest.envelope.occurredAt)) / 1000;
        metrics.shardLagSeconds.set({ shard_id: shardId }, Math.max(0, lag));
      }
      const last = batch.records.at(-1) as { sequenceNumber: string };
      await this.saveCheckpoint(state, { ...state.checkpoint, sequenceNumber: last.sequenceNumber });
    }
    state.iterator = batch.nextIterator;
    if (!state.iterator) await this.markEnded(state);
    return batch.records.length > 0;
  }

  private async markEnded(state: ShardState): Promise<boolean> {
    this.options.logger.info({ shardId: state.shard.shardId }, 'shard read to its end');
    await this.saveCheckpoint(state, { ...state.checkpoint, ended: true });
    return true;
  }

  private async saveCheckpoint(state: ShardState, checkpoint: ShardCheckpoint): Promise<void> {
    try {
      await this.options.checkpoints.write(checkpoint);
      state.checkpoint = checkpoint;
      this.options.metrics.checkpointWrites.inc({ outcome: 'ok' });
    } catch (error) {
      this.options.metrics.checkpointWrites.inc({ outcome: 'failed' });
      throw toAppError(error);
    }
  }
}
