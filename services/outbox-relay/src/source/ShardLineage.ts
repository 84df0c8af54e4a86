import type { StreamShard } from './StreamShard';

/** How far the relay got in one shard, as far as lineage cares. */
export interface ShardProgress {
  ended: boolean;
  sequenceNumber?: string;
}

/** What the lineage says about the shards of one stream. */
export interface LineagePlan {
  /** Shards to read now, parents before children (a child only once all its parents ended). */
  readable: string[];
  /** Shards waiting for a parent to be read to its end. */
  waiting: string[];
  /**
   * Shards the relay had started but the stream no longer describes: their unread records are
   * gone from the stream (past the trim horizon) and must come from the outbox table.
   */
  vanished: string[];
}

/** Parents of a shard: DynamoDB Streams has one, a Kinesis merge has two. */
export function parentsOf(shard: StreamShard): string[] {
  return [shard.parentShardId, shard.adjacentParentShardId].filter((id): id is string => typeof id === 'string');
}

/**
 * Orders the shards of a stream by lineage. A shard is readable when it has not ended and every
 * parent the stream still describes has ended; a parent the stream no longer describes was
 * trimmed away and counts as done (if the relay had started it, it shows up in `vanished`).
 * Readable shards come oldest generation first.
 */
export function planShards(shards: StreamShard[], progress: ReadonlyMap<string, ShardProgress>): LineagePlan {
  const described = new Map(shards.map((shard) => [shard.shardId, shard]));
  const ended = (shardId: string): boolean => {
    if (!described.has(shardId)) return true;
    return progress.get(shardId)?.ended === true;
  };
  const depth = new Map<string, number>();
  const depthOf = (shardId: string, seen = new Set<string>()): number => {
    const known = depth.get(shardId);
    if (known !== undefined) return known;
    const shard = described.get(shardId);
    if (!shard || seen.has(shardId)) return 0;
    seen.add(shardId);
    const value = 1 + Math.max(0, ...parentsOf(shard).map((parent) => depthOf(parent, seen)));
    depth.set(shardId, value);
    return value;
  };
  const readable: string[] = [];
  const waiting: string[] = [];
  for (const shard of shards) {
    if (progress.get(shard.shardId)?.ended) continue;
    if (parentsOf(shard).every(ended)) readable.push(shard.shardId);
    else waiting.push(shard.shardId);
  }
  readable.sort((a, b) => depthOf(a) - depthOf(b) || a.localeCompare(b));
  const vanished = [...progress.entries()]
    .filter(([shardId, p]) => !described.has(shardId) && !p.ended)
    .map(([shardId]) => shardId)
    .sort();
  return { readable, waiting, vanished };
}

/** True when a closed shard's checkpoint already stands at its last record. */
export function isDrained(shard: StreamShard, progress: ShardProgress | undefined): boolean {
  if (shard.endingSequenceNumber === undefined || progress?.sequenceNumber === undefined) return false;
  try {
    return BigInt(progress.sequenceNumber) >= BigInt(shard.endingSequenceNumber);
  } catch {
    return false; // not numeric: let the reader find the end
  }
}

/**
 * Whether a shard never read may have lost its first records to the trim horizon. A parent still
 * listed closed, and so this shard began, within the retention: nothing trimmed. Otherwise the
 * shard began no earlier than the stream did: only a stream older than its retention can have
 * trimmed it (conservative: the relay then backfills, which is safe).
 */
export function mayHaveLostItsStart(
  shard: StreamShard,
  listed: ReadonlySet<string>,
  stream: { createdAtMs?: number; retentionMs: number; nowMs: number },
): boolean {
  if (parentsOf(shard).some((parent) => listed.has(parent))) return false;
  if (stream.createdAtMs === undefined) return true;
  return stream.nowMs - stream.createdAtMs > stream.retentionMs;
}

/** A shard's stored progress with its lineage (a lease item). */
export interface StoredShard extends ShardProgress {
  shardId: string;
  parentShardId?: string;
  adjacentParentShardId?: string;
}

/** A shard whose lease may be taken now. */
export interface LeasableShard {
  shard: StreamShard;
  /** True when the stream no longer lists it though it has not ended: its rest must come from the table. */
  vanished: boolean;
}

/**
 * The shards whose lease may be taken now, oldest generation first: not ended, and every parent
 * ended. A parent counts as ended when its stored progress says so, or when the stream no longer
 * lists it and nothing stored says it is unfinished (then it was trimmed away before anyone read
 * it). A stored shard the stream no longer lists and that has not ended is `vanished`: leasable at
 * once, so its owner re-reads its rest from the table before its children are read.
 */
export function leasableShards(shards: StreamShard[], stored: ReadonlyMap<string, StoredShard>): LeasableShard[] {
  const described = new Map(shards.map((shard) => [shard.shardId, shard]));
  const ended = (shardId: string): boolean => {
    const progress = stored.get(shardId);
    if (progress) return progress.ended;
    return !described.has(shardId);
  };
  const leasable: LeasableShard[] = [];
  for (const shard of shards) {
    if (stored.get(shard.shardId)?.ended) continue;
    if (parentsOf(shard).every(ended)) leasable.push({ shard, vanished: false });
  }
  const depth = (shard: StreamShard, seen = new Set<string>()): number => {
    if (seen.has(shard.shardId)) return 0;
    seen.add(shard.shardId);
    const parents = parentsOf(shard).flatMap((id) => {
      const parent = described.get(id);
      return parent ? [parent] : [];
    });
    return 1 + Math.max(0, ...parents.map((parent) => depth(parent, seen)));
  };
  leasable.sort((a, b) => depth(a.shard) - depth(b.shard) || a.shard.shardId.localeCompare(b.shard.shardId));
  for (const item of [...stored.values()].sort((a, b) => a.shardId.localeCompare(b.shardId))) {
    if (described.has(item.shardId) || item.ended) continue;
    const shard: StreamShard = {
      shardId: item.shardId,
      parentShardId: item.parentShardId,
      adjacentParentShardId: item.adjacentParentShardId,
    };
    leasable.unshift({ shard, vanished: true });
  }
  return leasable;
}
