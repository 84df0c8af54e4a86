import type { ChangeSource, RecordBatch, ShardStart, StreamShard } from './StreamShard';

/** What a read ahead of the relay came to: its batch or its error, kept until asked for. */
type Settled = { batch: RecordBatch } | { error: unknown };

/** One shard's read ahead: the iterator it read and its (possibly still running) outcome. */
interface Prefetch {
  iterator: string;
  outcome: Promise<Settled>;
}

/** Counts of what happened to reads ahead (for tests and logs). */
export interface ReadAheadStats {
  /** Reads ahead started. */
  started: number;
  /** Reads served from a read ahead (its batch or its error). */
  served: number;
  /** Reads ahead dropped unused (another iterator, a new iterator, a reset). */
  dropped: number;
}

/**
 * A {@link ChangeSource} that, per shard, reads the next batch while the relay publishes the
 * current one: when `read` returns records and a next iterator, the read of that iterator starts
 * at once in the background, and the next `read` with that same iterator gets its outcome (the
 * batch, or the error thrown then, so the relay's own handling of `source.trimmed` and
 * `source.iterator_expired` applies unchanged).
 *
 * Rules that keep it safe:
 * - At most one read ahead per shard, and at most `maxShards` shards with one at a time: memory
 *   holds a bounded number of batches ahead however many shards this instance leads (all of
 *   them, when its peers are gone). A shard that finds no free place reads on demand.
 * - None after an empty batch (the shard's tip: polling stays the relay's to pace) or at the
 *   shard's end (no next iterator).
 * - Any other call about the shard drops it: a `read` with another iterator, `iteratorFor`
 *   (the relay re-acquires from its checkpoint after a failure or a new term), or {@link reset}.
 *   A dropped read's outcome is discarded: its records will be read again from the checkpoint.
 * - An empty read ahead is not served: the tip moves on while the relay publishes, so "caught
 *   up" (lag 0) is judged on a fresh read of the same iterator instead.
 */
export class ReadAheadSource implements ChangeSource {
  private readonly inner: ChangeSource;
  private readonly maxShards: number;
  private readonly prefetches = new Map<string, Prefetch>();
  /** Per shard, bumped by every call that drops its read ahead (see {@link drop}). */
  private readonly generations = new Map<string, number>();
  readonly stats: ReadAheadStats = { started: 0, served: 0, dropped: 0 };

  /** `maxShards`: how many shards may have a batch read ahead at once (unbounded when left out). */
  constructor(inner: ChangeSource, options: { maxShards?: number } = {}) {
    this.inner = inner;
    this.maxShards = options.maxShards ?? Number.POSITIVE_INFINITY;
  }

  get streamArn(): string {
    return this.inner.streamArn;
  }

  get mayReorder(): boolean | undefined {
    return this.inner.mayReorder;
  }

  listShards(): Promise<StreamShard[]> {
    return this.inner.listShards();
  }

  iteratorFor(shard: StreamShard, start: ShardStart): Promise<string | undefined> {
    this.drop(shard.shardId);
    return this.inner.iteratorFor(shard, start);
  }

  async read(shardId: string, iterator: string, limit: number): Promise<RecordBatch> {
    const prefetch = this.prefetches.get(shardId);
    if (prefetch?.iterator === iterator) this.prefetches.delete(shardId);
    else this.drop(shardId);
    // A read that another call about the shard overtook (a new iterator, a reset) starts none.
    const generation = this.generation(shardId);
    let batch: RecordBatch | undefined;
    if (prefetch?.iterator === iterator) {
      const outcome = await prefetch.outcome;
      this.stats.served += 1;
      if ('error' in outcome) throw outcome.error;
      if (outcome.batch.records.length > 0) batch = outcome.batch;
    }
    batch ??= await this.inner.read(shardId, iterator, limit);
    const next = batch.nextIterator;
    if (
      batch.records.length > 0 &&
      next !== undefined &&
      generation === this.generation(shardId) &&
      this.prefetches.size < this.maxShards
    ) {
      this.stats.started += 1;
      const outcome = Promise.resolve()
        .then(() => this.inner.read(shardId, next, limit))
        .then(
          (read): Settled => ({ batch: read }),
          (error: unknown): Settled => ({ error }),
        );
      this.prefetches.set(shardId, { iterator: next, outcome });
    }
    return batch;
  }

  /** Drops the shard's read ahead: the relay stopped reading it, so its place goes to another shard. */
  release(shardId: string): void {
    this.drop(shardId);
  }

  /** Drops every read ahead (for example when the relay drops all its iterators). */
  reset(): void {
    for (const shardId of [...this.prefetches.keys(), ...this.generations.keys()]) this.drop(shardId);
  }

  /** Shards with a read ahead kept or under way. */
  get pending(): number {
    return this.prefetches.size;
  }

  private drop(shardId: string): void {
    this.generations.set(shardId, this.generation(shardId) + 1);
    if (this.prefetches.delete(shardId)) this.stats.dropped += 1;
  }

  private generation(shardId: string): number {
    return this.generations.get(shardId) ?? 0;
  }
}
