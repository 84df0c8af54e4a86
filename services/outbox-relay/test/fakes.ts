import { createLogger, createMetricsRegistry } from '@outbox/shared';
import type { Checkpoints, ShardCheckpoint, StreamPointer } from '../src/checkpoint/CheckpointStore';
import type { LeaseFence } from '../src/lease/LeaderLease';
import type { BackfillSource, BackfillWindow } from '../src/backfill/OutboxBackfill';
import type { ChangeSource, RecordBatch, ShardStart, SourceRecord, StreamShard } from '../src/source/StreamShard';
import { SourceError } from '../src/source/SourceError';
import type { DeadLetter, OutgoingEvent } from '../src/relay/OutgoingEvent';
import { orderCreated } from '@outbox/testkit';
import { Relay, type RelayOptions } from '../src/relay/Relay';
import type { OwnedShard, ShardLeasing } from '../src/lease/ShardLeases';
import { leasableShards } from '../src/source/ShardLineage';
import { createRelayMetrics } from '../src/relay/relayMetrics';

/** An outbox item as a stream INSERT record. */
export function insert(
  shardId: string,
  sequenceNumber: string,
  aggregateId: string,
  seq: number,
  occurredAt = new Date().toISOString(),
  serverTimeMs?: number,
): SourceRecord {
  return {
    shardId,
    sequenceNumber,
    eventName: 'INSERT',
    serverTimeMs,
    newImage: {
      ...orderCreated(aggregateId, {
        eventId: `${aggregateId}-${seq}`,
        seq,
        occurredAt,
        payload: { orderId: aggregateId },
      }),
      expiresAt: 1,
    },
  };
}

/** A change stream in memory: shards with records; scripted errors by call. */
export class FakeSource implements ChangeSource {
  readonly streamArn = 'arn:aws:dynamodb:us-east-1:123456789012:table/OrderOutbox/stream/2026-11-23T00:00:00.000';
  readonly iteratorRequests: { shardId: string; after?: string }[] = [];
  /** Errors to throw, by method, in order (one per call until empty). */
  readonly failNext: { iteratorFor: Error[]; read: Error[] } = { iteratorFor: [], read: [] };

  constructor(
    private readonly shards: StreamShard[],
    private readonly records: Map<string, SourceRecord[]>,
  ) {}

  async listShards(): Promise<StreamShard[]> {
    return this.shards;
  }

  /** Every start asked for, in order. */
  readonly starts: ShardStart[] = [];

  async iteratorFor(shard: StreamShard, start: ShardStart): Promise<string | undefined> {
    const shardId = shard.shardId;
    const after = 'after' in start ? start.after : undefined;
    this.iteratorRequests.push({ shardId, after });
    this.starts.push(start);
    const error = this.failNext.iteratorFor.shift();
    if (error) throw error;
    const records = this.records.get(shardId) ?? [];
    const position = after === undefined ? 0 : records.findIndex((r) => r.sequenceNumber === after) + 1;
    return `${shardId}|${position}`;
  }

  async read(shardId: string, iterator: string, limit: number): Promise<RecordBatch> {
    const error = this.failNext.read.shift();
    if (error) throw error;
    const position = Number(iterator.split('|')[1]);
    const all = this.records.get(shardId) ?? [];
    const records = all.slice(position, position + limit);
    const next = position + records.length;
    const closed = this.shards.find((s) => s.shardId === shardId)?.endingSequenceNumber !== undefined;
    return { records, nextIterator: closed && next >= all.length ? undefined : `${shardId}|${next}` };
  }
}

/** What a source raises when records the relay has not read are gone from the stream. */
export function trimmed(shardId = 'shardId-1'): SourceError {
  return new SourceError('source.trimmed', shardId, `records of ${shardId} were trimmed`);
}

/** What a source raises when an iterator is no longer valid. */
export function expired(shardId = 'shardId-1'): SourceError {
  return new SourceError('source.iterator_expired', shardId, `the iterator of ${shardId} is no longer valid`);
}

export class MemoryCheckpoints implements Checkpoints {
  readonly byStream = new Map<string, Map<string, ShardCheckpoint>>();
  pointer?: StreamPointer;

  async read(streamArn: string, shardId: string) {
    return this.byStream.get(streamArn)?.get(shardId);
  }
  async list(streamArn: string) {
    return [...(this.byStream.get(streamArn)?.values() ?? [])];
  }
  async write(streamArn: string, checkpoint: ShardCheckpoint, _fence: LeaseFence) {
    const map = this.byStream.get(streamArn) ?? new Map<string, ShardCheckpoint>();
    map.set(checkpoint.shardId, checkpoint);
    this.byStream.set(streamArn, map);
  }
  async readStreamPointer() {
    return this.pointer;
  }
  async writeStreamPointer(pointer: StreamPointer, _fence: LeaseFence) {
    this.pointer = pointer;
  }
}

export class RecordingPublisher {
  readonly events: OutgoingEvent[] = [];
  readonly letters: DeadLetter[] = [];
  readonly maxRecordBytes = 1_000_000;
  recordBytes(event: OutgoingEvent) {
    return JSON.stringify(event.envelope).length;
  }
  async publishBatch(events: OutgoingEvent[], letters: DeadLetter[]) {
    this.events.push(...events);
    this.letters.push(...letters);
  }
}

export class FakeBackfill implements BackfillSource {
  /** The start of each window read, as an ISO time (`undefined`: the whole table). */
  readonly calls: (string | undefined)[] = [];
  constructor(private readonly records: SourceRecord[]) {}
  async *read(window: BackfillWindow) {
    const { fromMs } = window;
    this.calls.push(fromMs === undefined ? undefined : new Date(fromMs).toISOString());
    yield this.records.filter((r) => fromMs === undefined || Date.parse(String(r.newImage?.occurredAt)) >= fromMs);
  }
}

const fence: LeaseFence = { table: 'RelayState', key: { pk: 'LEASE#x', sk: 'LEADER' }, owner: 'me', counter: 1 };

/**
 * Per-shard leases in memory for one instance alone: it leads every shard the lineage allows, with
 * the checkpoints of a {@link MemoryCheckpoints}.
 */
export class SoleShardLeases implements ShardLeasing {
  private stream?: { arn: string; shards: StreamShard[] };
  private readonly released = new Set<string>();

  constructor(private readonly checkpoints: MemoryCheckpoints) {}

  async offer(streamArn: string, shards: StreamShard[]): Promise<void> {
    this.stream = { arn: streamArn, shards };
  }
  owned(): OwnedShard[] {
    if (!this.stream) return [];
    const { arn, shards } = this.stream;
    const stored = this.checkpoints.byStream.get(arn) ?? new Map<string, ShardCheckpoint>();
    return leasableShards(shards, stored)
      .filter(({ shard }) => !this.released.has(`${arn}|${shard.shardId}`))
      .map(({ shard, vanished }) => ({
        streamArn: arn,
        shardId: shard.shardId,
        shard,
        vanished,
        term: 1,
        checkpoint: stored.get(shard.shardId) ?? {
          shardId: shard.shardId,
          ended: false,
          parentShardId: shard.parentShardId,
        },
      }));
  }
  retains(shardId: string): boolean {
    return this.holds(shardId);
  }
  holds(shardId: string): boolean {
    return this.stream !== undefined && !this.released.has(`${this.stream.arn}|${shardId}`);
  }
  async checkpoint(_shardId: string, _term: number, checkpoint: ShardCheckpoint): Promise<void> {
    await this.checkpoints.write((this.stream as { arn: string }).arn, checkpoint, fence);
  }
  async release(shardId: string): Promise<void> {
    if (this.stream) this.released.add(`${this.stream.arn}|${shardId}`);
  }
  async list(streamArn: string): Promise<ShardCheckpoint[]> {
    return this.checkpoints.list(streamArn);
  }
}

/** A relay over fakes that always leads, alone, storing every checkpoint at once. */
export function relayOver(
  source: ChangeSource,
  extra: Partial<RelayOptions> & { checkpoints?: MemoryCheckpoints; backfill?: BackfillSource } = {},
) {
  const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
  const publisher = new RecordingPublisher();
  const checkpoints = extra.checkpoints ?? new MemoryCheckpoints();
  const relay = new Relay({
    resolveStreamArn: async () => source.streamArn,
    sourceFor: () => source,
    checkpoints,
    backfill: extra.backfill ?? new FakeBackfill([]),
    publishers: { acquire: () => publisher, release: async () => undefined },
    coordinator: { isLeader: () => true, retained: true, term: 1, fenced: (write) => write(fence) },
    leases: new SoleShardLeases(checkpoints),
    metrics: createRelayMetrics(registry),
    logger: createLogger({ service: 'test', level: 'silent' }),
    batchSize: 2,
    maxRecordsInFlight: 1000,
    readAheadShards: 0,
    pollIdleMaxMs: 10,
    shardRefreshMs: 10,
    backfillOverlapMs: 0,
    failureBackoff: { initialMs: 10, maxMs: 50 },
    stallTimeoutMs: 60_000,
    checkpointIntervalMs: 0,
    checkpointMaxRecords: 1,
    ...extra,
  });
  return { relay, publisher, checkpoints, registry };
}
