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
