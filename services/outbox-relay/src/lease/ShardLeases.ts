import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DeleteCommandInput,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { AppError, type Logger } from '@outbox/shared';
import type { Counter, Gauge } from 'prom-client';
import type { ShardCheckpoint } from '../source/ShardCheckpoint';
import type { StreamShard } from '../source/StreamShard';
import { leasableShards } from '../source/ShardLineage';
import { LeaseLostError, isConditionFailure } from './LeaderLease';

/** A shard this instance leads, with where it stood when the lease was taken. */
export interface OwnedShard {
  streamArn: string;
  shardId: string;
  /** The shard as the stream describes it; only the id and parents for a shard no longer listed. */
  shard: StreamShard;
  /** True when the stream no longer describes the shard (trimmed away) though it had not ended. */
  vanished: boolean;
  checkpoint: ShardCheckpoint;
  /** Changes with every acquisition, so a worker can tell a new lease from the one it started with. */
  term: number;
}

/** What the relay needs from per-shard leases; tests may fake it. */
export interface ShardLeasing {
  /** True while this instance still has the shard's lease at `term`, valid or lapsed (see {@link ShardLeases.retains}). */
  retains(shardId: string, term: number): boolean;
  /** The stream whose shards to lease and its shards as listed now (called at every shard refresh). */
  offer(streamArn: string, shards: StreamShard[]): Promise<void>;
  /** The shards this instance leads now. */
  owned(): OwnedShard[];
  /** True while this instance holds the shard's lease at `term` and may publish and checkpoint. */
  holds(shardId: string, term: number): boolean;
  /** Stores the shard's checkpoint in its lease item; throws {@link LeaseLostError} when the lease moved on. */
  checkpoint(shardId: string, term: number, checkpoint: ShardCheckpoint): Promise<void>;
  /** Hands the lease back (after the caller stored its last checkpoint) so another instance takes it at once. */
  release(shardId: string, term: number): Promise<void>;
  /** The checkpoint of every shard of the stream (lease items), fresher values of owned shards first. */
  list(streamArn: string): Promise<ShardCheckpoint[]>;
}

/** Metrics the shard leases keep up to date. */
export interface ShardLeaseMetrics {
  shardsOwned: Gauge;
  acquisitions: Counter<'how'>;
  losses: Counter<'reason'>;
}

/** Options for {@link ShardLeases}. */
export interface ShardLeasesOptions {
  doc: DynamoDBDocumentClient;
  /** The RelayState table. */
  table: string;
  /** Names the group of relays sharing the shards (the outbox table's name); keys the heartbeats. */
  groupName: string;
  /** This instance's name, stored as the lease owner. */
  owner: string;
  /** Another instance takes a lease once its counter has not moved for this long on its own clock. */
  leaseDurationMs: number;
  /** How often held leases are renewed. */
  renewIntervalMs: number;
  /** How often the lease table is scanned for free, expired or stealable leases (and the heartbeat written). */
  scanIntervalMs: number;
  /** At most one lease is stolen from a busier instance per this period (no flapping). */
  stealIntervalMs: number;
  logger: Logger;
  metrics?: ShardLeaseMetrics;
  /** A monotonic clock in ms (default `performance.now`); tests inject their own. */
  monotonicNow?: () => number;
  /** Called when this instance took or lost a lease. */
  onChange?: () => void;
  /** Shards this instance must not take for now (it released them because they stalled here). */
  avoid?: (shardId: string) => boolean;
  /**
   * How long, on this instance's clock, a finished shard's lease item stays once the stream no
   * longer lists it, and a heartbeat stays once it stopped moving, before this instance deletes
   * it (default {@link CLEANUP_AFTER_MS}).
   */
  cleanupAfterMs?: number;
}

/**
 * Default of {@link ShardLeasesOptions.cleanupAfterMs}: an hour. Far longer than any shard
 * refresh, so no instance still lists a shard the stream trimmed; a relay paused that long finds
 * its heartbeat gone and writes it again at its next renewal.
 */
export const CLEANUP_AFTER_MS = 3_600_000;
/** At most this many items are deleted per scan, so a table full of old items is emptied a bit at a time. */
const MAX_DELETES_PER_SCAN = 25;

/** A lease item as read from the table. */
interface LeaseItem {
  shardId: string;
  owner?: string;
  counter?: number;
  checkpoint: ShardCheckpoint;
  adjacentParentShardId?: string;
}

interface Held {
  streamArn: string;
  counter: number;
  validUntil: number;
  term: number;
  shard: StreamShard;
  vanished: boolean;
  checkpoint: ShardCheckpoint;
  queue: Promise<unknown>;
}

/**
 * Per-shard leases in the RelayState table, modelled on KCL's lease table: one item per shard of
 * the stream being read (`pk = STREAM#<arn>`, `sk = SHARD#<id>`), holding the owner
 * (`leaseOwner`), a counter every lease write moves and is conditioned on (`leaseCounter`, the
 * fencing token) and the shard's checkpoint. The item is the old per-shard checkpoint item, so a
 * table written by the single-leader relay is read as a set of free leases at their checkpoints.
 *
 * - Each held lease is renewed every `renewIntervalMs`; this instance counts it as held only
 *   until `renewStart + 80 % of leaseDurationMs`, so it stops acting before anyone can take over.
 * - Another instance remembers, on its own monotonic clock, when it first saw each counter; a lease
 *   whose counter has not moved for `leaseDurationMs`, or without owner, is free to take.
 * - A shard is eligible only once every parent ended (its lease item says so, or the stream no
 *   longer lists it and no item says it is unfinished).
 * - Balance: take free and expired leases up to `ceil(shards / instances)`; when holding fewer
 *   than that, steal one lease per `stealIntervalMs` from the instance holding the most, if it
 *   holds at least two more. Instances are counted from the live lease
 *   owners and a heartbeat item per instance (`pk = RELAY#<group>`, `sk = INSTANCE#<owner>`).
 * - Writes of one shard (renewal, checkpoint, release) run one at a time, so a checkpoint never
 *   races this instance's own renewal.
 * - Cleanup, as KCL cleans up the leases of finished shards: a shard's item is deleted once the
 *   shard ended and the stream has not listed it for `cleanupAfterMs` (it was trimmed: nothing
 *   can read it again), unless a child that has read nothing still needs its position; a
 *   heartbeat that stood still that long is deleted too. DynamoDB Streams closes every shard
 *   after about four hours, so without this the items every scan reads would grow for ever.
 */
export class ShardLeases implements ShardLeasing {
  private readonly options: ShardLeasesOptions;
  private readonly now: () => number;
  private readonly held = new Map<string, Held>();
  private readonly observed = new Map<string, { counter: number | undefined; owner?: string; since: number }>();
  private readonly beats = new Map<string, { beat: number; since: number }>();
  /** Finished shards the stream no longer lists, with when this instance first saw them so. */
  private readonly finishedSince = new Map<string, number>();
  private stream?: { arn: string; shards: StreamShard[] };
  /** When the shard list was last offered (monotonic ms). */
  private offeredAt = -Infinity;
  private staleListLogged = false;
  private terms = 0;
  private lastStealAt = -Infinity;
  private timer?: NodeJS.Timeout;
  private renewTimer?: NodeJS.Timeout;
  private renewing?: Promise<void>;
  private stopped = false;
  private taking = true;
  private ticking?: Promise<void>;

  constructor(options: ShardLeasesOptions) {
    if (options.renewIntervalMs * 2 > options.leaseDurationMs) {
      throw new AppError('config.invalid', 'The lease renew interval must be at most half the lease duration');
    }
    this.options = options;
    this.now = options.monotonicNow ?? (() => performance.now());
  }

  /** The key of a shard's lease item. */
  static keyOf(streamArn: string, shardId: string): { pk: string; sk: string } {
    return { pk: `STREAM#${streamArn}`, sk: `SHARD#${shardId}` };
  }

  async offer(streamArn: string, shards: StreamShard[]): Promise<void> {
    if (this.stream && this.stream.arn !== streamArn) {
      // The relay moved to another stream (the table's stream was replaced): leases of the old
      // one are handed back by the relay's workers; forget what was seen of it.
      this.observed.clear();
      this.finishedSince.clear();
    }
    this.stream = { arn: streamArn, shards };
    this.offeredAt = this.now();
    this.staleListLogged = false;
  }

  owned(): OwnedShard[] {
    return [...this.held.entries()]
      .filter(([, held]) => this.now() < held.validUntil)
      .map(([shardId, held]) => ({
        streamArn: held.streamArn,
        shardId,
        shard: held.shard,
        vanished: held.vanished,
        checkpoint: held.checkpoint,
        term: held.term,
      }));
  }

  /** How many leases this instance holds now. */
  get ownedCount(): number {
    return this.owned().length;
  }

  holds(shardId: string, term: number): boolean {
    const held = this.held.get(shardId);
    return held !== undefined && held.term === term && this.now() < held.validUntil;
  }

  /**
   * True while this instance still has the shard's lease at `term`, valid or lapsed: a lapsed
   * lease (its validity ran out, say in a pause) acts no more, but comes back when the next
   * renewal, conditioned on the counter, proves nobody took it meanwhile.
   */
  retains(shardId: string, term: number): boolean {
    return this.held.get(shardId)?.term === term;
  }

  /** Starts renewing, and apart from that scanning, in the background. */
  start(): void {
    if (this.renewTimer || this.stopped) return;
    // Renewals have their own timer, so a slow scan never delays them.
    const renewLoop = () => {
      this.renewing = this.renewAll()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, 'shard lease renewal failed'))
        .finally(() => {
          this.renewing = undefined;
          if (this.stopped) return;
          this.renewTimer = setTimeout(renewLoop, this.options.renewIntervalMs);
          this.renewTimer.unref();
        });
    };
    const scanLoop = () => {
      this.ticking = this.tick()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, 'shard lease check failed'))
        .finally(() => {
          this.ticking = undefined;
          if (this.stopped) return;
          this.timer = setTimeout(scanLoop, this.options.scanIntervalMs);
          this.timer.unref();
        });
    };
    this.renewTimer = setTimeout(renewLoop, 0);
    this.renewTimer.unref();
    this.timer = setTimeout(scanLoop, 0);
    this.timer.unref();
  }

  /** Renews every held lease (valid or lapsed) and beats this instance's heartbeat. */
  async renewAll(): Promise<void> {
    await Promise.all([...[...this.held.keys()].map((shardId) => this.renew(shardId)), this.heartbeat()]);
    this.publishGauge();
  }

  /** One scan: take (or steal) what the lineage and the balance allow. Exposed for tests. */
  async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.stream && this.taking && !this.listIsStale()) await this.scan(this.stream);
    this.publishGauge();
  }

  async checkpoint(shardId: string, term: number, checkpoint: ShardCheckpoint): Promise<void> {
    await this.serialized(shardId, term, async (held) => {
      await this.write(shardId, held, {
        set: checkpointFields(checkpoint),
        remove: checkpointRemovals(checkpoint),
      });
      held.checkpoint = checkpoint;
    });
  }

  async release(shardId: string, term: number): Promise<void> {
    const held = this.held.get(shardId);
    if (!held || held.term !== term) return;
    await this.serialized(
      shardId,
      term,
      async () => {
        this.drop(shardId);
        try {
          await this.write(shardId, held, { set: { releasedAt: new Date().toISOString() }, remove: ['leaseOwner'] }, 1);
          this.options.logger.info({ shardId }, 'shard lease released');
        } catch (error) {
          // Someone already took it, or DynamoDB is away: either way another instance gets it in time.
          this.options.logger.warn({ err: error, shardId }, 'shard lease release failed');
        }
      },
      true,
    ).catch(() => undefined);
  }

  /** Takes no more leases (a stop or a stall is coming); held ones are still renewed. */
  stopTaking(): void {
    this.taking = false;
  }

  /** Stops renewing and scanning; hands back every lease still held (after the relay's last checkpoints). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.renewTimer);
    await this.ticking;
    await this.renewing;
    await Promise.all([...this.held.entries()].map(([shardId, held]) => this.release(shardId, held.term)));
    await this.options.doc
      .send(new DeleteCommand({ TableName: this.options.table, Key: this.heartbeatKey(this.options.owner) }))
      .catch(() => undefined);
    this.publishGauge();
  }

  async list(streamArn: string): Promise<ShardCheckpoint[]> {
    const items = await this.readItems(streamArn);
    return items.map((item) => {
      const held = this.held.get(item.shardId);
      return held?.streamArn === streamArn ? held.checkpoint : item.checkpoint;
    });
  }

  private async renew(shardId: string): Promise<void> {
    const held = this.held.get(shardId);
    if (!held) return;
    const started = this.now();
    const lapsed = started >= held.validUntil;
    try {
      await this.serialized(
        shardId,
        held.term,
        async () => {
          await this.write(shardId, held, { set: { renewedAt: new Date().toISOString() } }, 1);
          held.validUntil = started + this.validity();
        },
        true,
      );
      if (lapsed) {
        this.options.logger.info({ shardId }, 'shard lease renewed after its validity lapsed: nobody took it');
        this.options.onChange?.();
      }
    } catch (error) {
      if (error instanceof LeaseLostError) return;
      // A transient failure: the lease acts until its validity runs out, then waits for a renewal.
      this.options.logger.warn({ err: error, shardId }, 'shard lease renewal failed; retrying');
    }
  }

  /**
   * Updates a held lease item on the condition that this instance still holds it at the counter
   * it knows; `bump` moves the counter on (renewal, release). A refused condition loses the lease.
   */
  private async write(
    shardId: string,
    held: Held,
    change: { set: Record<string, unknown>; remove?: string[] },
    bump = 0,
  ): Promise<void> {
    const arn = held.streamArn;
    const names: Record<string, string> = { '#owner': 'leaseOwner', '#counter': 'leaseCounter' };
    const values: Record<string, unknown> = { ':me': this.options.owner, ':counter': held.counter };
    const sets: string[] = [];
    Object.entries(change.set).forEach(([name, value], i) => {
      names[`#s${i}`] = name;
      values[`:s${i}`] = value;
      sets.push(`#s${i} = :s${i}`);
    });
    if (bump > 0) {
      values[':next'] = held.counter + bump;
      sets.push('#counter = :next');
    }
    const removes = (change.remove ?? []).map((name, i) => {
      names[`#r${i}`] = name;
      return `#r${i}`;
    });
    const update = () =>
      this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: ShardLeases.keyOf(arn, shardId),
          UpdateExpression: [
            sets.length > 0 ? `SET ${sets.join(', ')}` : '',
            removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
          ].join(' '),
          ConditionExpression: '#owner = :me AND #counter = :counter',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...values, ':counter': held.counter },
        }),
      );
    try {
      try {
        await update();
      } catch (error) {
        // A renewal that timed out here may still have been applied: when the item still names
        // this instance, only this instance wrote it since (a taker writes its own name), so its
        // counter is adopted and the write tried once more.
        if (!isConditionFailure(error) || !(await this.adoptOwnCounter(arn, shardId, held))) throw error;
        if (bump > 0) values[':next'] = held.counter + bump;
        await update();
      }
    } catch (error) {
      if (isConditionFailure(error)) {
        this.lose(shardId, 'taken', 'lease write refused: another instance holds the lease');
        throw new LeaseLostError(`lease of shard ${shardId} moved on`, error);
      }
      throw new AppError('lease.write_failed', `Could not write the lease of shard ${shardId}`, {
        retriable: true,
        cause: error,
      });
    }
    held.counter += bump;
  }

  /**
   * Runs a write of a held lease after the ones before it. Only a renewal (`lapsedToo`) runs on a
   * lease whose validity ran out; anything else is refused with {@link LeaseLostError}.
   */
  private async adoptOwnCounter(streamArn: string, shardId: string, held: Held): Promise<boolean> {
    const { Item } = await this.options.doc
      .send(
        new GetCommand({
          TableName: this.options.table,
          Key: ShardLeases.keyOf(streamArn, shardId),
          ConsistentRead: true,
        }),
      )
      .catch(() => ({ Item: undefined }));
    if (Item?.leaseOwner !== this.options.owner || typeof Item.leaseCounter !== 'number') return false;
    if (Item.leaseCounter === held.counter) return false;
    held.counter = Item.leaseCounter;
    return true;
  }

  private serialized<T>(
    shardId: string,
    term: number,
    action: (held: Held) => Promise<T>,
    lapsedToo = false,
  ): Promise<T> {
    const held = this.held.get(shardId);
    if (!held || held.term !== term) return Promise.reject(new LeaseLostError(`not the owner of shard ${shardId}`));
    const run = () => {
      if (this.held.get(shardId) !== held) throw new LeaseLostError(`not the owner of shard ${shardId}`);
      if (!lapsedToo && this.now() >= held.validUntil)
        throw new LeaseLostError(`the lease of shard ${shardId} lapsed; waiting for a renewal`);
      return action(held);
    };
    const next = held.queue.then(run, run);
    held.queue = next.catch(() => undefined);
    return next;
  }

  private async heartbeat(): Promise<void> {
    await this.options.doc.send(
      new UpdateCommand({
        TableName: this.options.table,
        Key: this.heartbeatKey(this.options.owner),
        UpdateExpression: 'SET #owner = :me, beatAt = :at ADD beat :one',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':me': this.options.owner, ':at': new Date().toISOString(), ':one': 1 },
      }),
    );
  }

  private heartbeatKey(owner: string): { pk: string; sk: string } {
    return { pk: `RELAY#${this.options.groupName}`, sk: `INSTANCE#${owner}` };
  }

  /**
   * Instances alive: owners of leases that move, and heartbeats that moved within a lease
   * duration, but no owner of an expired lease (a live instance renews all of its leases); this
   * one always counts.
   */
  private async liveInstances(liveOwners: Set<string>, deadOwners: Set<string>): Promise<Set<string>> {
    const items = await queryAll(this.options.doc, {
      TableName: this.options.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :instance)',
      ExpressionAttributeValues: { ':pk': `RELAY#${this.options.groupName}`, ':instance': 'INSTANCE#' },
      ConsistentRead: true,
    });
    const now = this.now();
    const live = new Set([this.options.owner, ...liveOwners]);
    const silent: { owner: string; beat: number }[] = [];
    const present = new Set<string>();
    for (const item of items) {
      const owner = String(item.owner);
      const beat = Number(item.beat);
      present.add(owner);
      const seen = this.beats.get(owner);
      if (!seen || seen.beat !== beat) this.beats.set(owner, { beat, since: now });
      else if (now - seen.since >= this.options.leaseDurationMs) {
        if (now - seen.since >= this.cleanupAfterMs && owner !== this.options.owner) silent.push({ owner, beat });
        continue;
      }
      if (!deadOwners.has(owner)) live.add(owner);
    }
    for (const owner of this.beats.keys()) if (!present.has(owner)) this.beats.delete(owner);
    await this.deleteHeartbeats(silent.slice(0, MAX_DELETES_PER_SCAN));
    return live;
  }

  /**
   * Deletes heartbeats that stood still for `cleanupAfterMs` (instances killed rather than
   * stopped), each only while its beat is still the one seen: a relay that comes back writes its
   * heartbeat again at its next renewal.
   */
  private async deleteHeartbeats(silent: { owner: string; beat: number }[]): Promise<void> {
    for (const { owner, beat } of silent) {
      const gone = await this.deleteWhen(
        this.heartbeatKey(owner),
        { ConditionExpression: 'beat = :beat', ExpressionAttributeValues: { ':beat': beat } },
        { owner },
        'heartbeat of an instance silent for the cleanup period',
      );
      if (!gone) return;
      this.beats.delete(owner);
    }
  }

  private async readItems(streamArn: string): Promise<LeaseItem[]> {
    const items = await queryShardItems(this.options.doc, this.options.table, streamArn);
    return items.map((item) => ({
      shardId: String(item.shardId),
      owner: typeof item.leaseOwner === 'string' ? item.leaseOwner : undefined,
      counter: typeof item.leaseCounter === 'number' ? item.leaseCounter : undefined,
      adjacentParentShardId: typeof item.adjacentParentShardId === 'string' ? item.adjacentParentShardId : undefined,
      checkpoint: toCheckpoint(item),
    }));
  }

  /** Reads the lease items, creates missing ones, and takes what the lineage and the balance allow. */
  private async scan(stream: { arn: string; shards: StreamShard[] }): Promise<void> {
    const now = this.now();
    const items = new Map((await this.readItems(stream.arn)).map((item) => [item.shardId, item]));
    for (const shard of stream.shards) {
      if (!items.has(shard.shardId)) items.set(shard.shardId, await this.create(stream.arn, shard));
    }
    const described = new Map(stream.shards.map((shard) => [shard.shardId, shard]));
    for (const shardId of this.observed.keys()) if (!items.has(shardId)) this.observed.delete(shardId);
    await this.deleteFinished(stream.arn, items, described, now);
    const liveOwners = new Set<string>();
    const deadOwners = new Set<string>();
    const expired = new Set<string>();
    for (const item of items.values()) {
      const seen = this.observed.get(item.shardId);
      if (!seen || seen.counter !== item.counter || seen.owner !== item.owner) {
        this.observed.set(item.shardId, { counter: item.counter, owner: item.owner, since: now });
      } else if (now - seen.since >= this.options.leaseDurationMs) {
        expired.add(item.shardId);
      }
      if (item.owner === undefined || item.checkpoint.ended) continue;
      if (expired.has(item.shardId)) deadOwners.add(item.owner);
      else liveOwners.add(item.owner);
    }
    for (const owner of deadOwners) liveOwners.delete(owner);
    const stored = new Map(
      [...items.values()].map((item) => [
        item.shardId,
        { ...item.checkpoint, adjacentParentShardId: item.adjacentParentShardId },
      ]),
    );
    const eligible = leasableShards(stream.shards, stored).map(({ shard }) => items.get(shard.shardId) as LeaseItem);
    if (eligible.length === 0) return;
    const instances = await this.liveInstances(liveOwners, deadOwners);
    const mine = () => eligible.filter((item) => this.held.has(item.shardId)).length;
    const target = Math.ceil(eligible.length / instances.size);
    const free = eligible
      .filter((item) => !this.held.has(item.shardId) && !this.options.avoid?.(item.shardId))
      .filter((item) => item.owner === undefined || expired.has(item.shardId) || item.owner === this.options.owner);
    // Taken all at once: a failover moves every orphaned lease in one round trip.
    await Promise.all(
      free
        .slice(0, Math.max(0, target - mine()))
        .map((item) => this.take(stream.arn, item, described, item.owner === undefined ? 'free' : 'expired')),
    );
    // Steal at most one lease per period, and only when that evens the load out: below the fair
    // share (`target`), from an instance holding at least two more. The thief then holds no more
    // than its victim, so leases never flap; and 4/2/2 over 8 shards and 3 instances still moves
    // to 3/3/2 (a rule of "below floor(shards / instances)" left it there).
    this.options.logger.debug(
      { eligible: eligible.length, instances: instances.size, mine: mine(), target },
      'shard lease scan',
    );
    if (mine() >= target || now - this.lastStealAt < this.options.stealIntervalMs) return;
    const loads = new Map<string, LeaseItem[]>();
    for (const item of eligible) {
      if (item.owner === undefined || item.owner === this.options.owner || expired.has(item.shardId)) continue;
      loads.set(item.owner, [...(loads.get(item.owner) ?? []), item]);
    }
    const busiest = [...loads.entries()].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))[0];
    if (!busiest || busiest[1].length < mine() + 2) return;
    const victim = busiest[1]
      .filter((item) => !this.options.avoid?.(item.shardId))
      .sort((a, b) => a.shardId.localeCompare(b.shardId))[0];
    if (!victim) return;
    this.lastStealAt = now;
    await this.take(stream.arn, victim, described, 'stolen');
  }

  /**
   * Deletes the items of shards that ended and that the stream has not listed for
   * `cleanupAfterMs`, except a parent whose child has not read anything yet (a backfill of that
   * child would start where the parent stopped). The delete is conditioned on `ended`, so it can
   * only ever remove a finished shard. Best effort: a failure is logged and tried at a later scan.
   */
  private async deleteFinished(
    streamArn: string,
    items: Map<string, LeaseItem>,
    described: Map<string, StreamShard>,
    now: number,
  ): Promise<void> {
    const neededByChild = new Set<string>();
    for (const item of items.values()) {
      const { checkpoint } = item;
      if (checkpoint.ended || checkpoint.sequenceNumber !== undefined || checkpoint.lastServerTimeMs !== undefined)
        continue;
      for (const parent of [checkpoint.parentShardId, item.adjacentParentShardId])
        if (parent) neededByChild.add(parent);
    }
    const due: string[] = [];
    for (const shardId of this.finishedSince.keys()) if (!items.has(shardId)) this.finishedSince.delete(shardId);
    for (const item of items.values()) {
      if (!item.checkpoint.ended || described.has(item.shardId)) {
        this.finishedSince.delete(item.shardId);
        continue;
      }
      const since = this.finishedSince.get(item.shardId);
      if (since === undefined) this.finishedSince.set(item.shardId, now);
      else if (now - since >= this.cleanupAfterMs && !neededByChild.has(item.shardId)) due.push(item.shardId);
    }
    for (const shardId of due.sort().slice(0, MAX_DELETES_PER_SCAN)) {
      const gone = await this.deleteWhen(
        ShardLeases.keyOf(streamArn, shardId),
        {
          ConditionExpression: '#ended = :true',
          ExpressionAttributeNames: { '#ended': 'ended' },
          ExpressionAttributeValues: { ':true': true },
        },
        { shardId },
        'lease item of a finished shard the stream no longer lists',
      );
      if (!gone) return;
      this.finishedSince.delete(shardId);
      this.observed.delete(shardId);
    }
  }

  /**
   * Deletes an item on a condition, for cleanup. True once it is gone or no longer due (the
   * condition failed: another instance deleted it, or it moved); false when DynamoDB failed, which
   * is logged and tried again at a later scan.
   */
  private async deleteWhen(
    key: { pk: string; sk: string },
    condition: Pick<
      DeleteCommandInput,
      'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
    fields: Record<string, string>,
    what: string,
  ): Promise<boolean> {
    try {
      await this.options.doc.send(new DeleteCommand({ TableName: this.options.table, Key: key, ...condition }));
      this.options.logger.info(fields, `${what} deleted`);
    } catch (error) {
      if (!isConditionFailure(error)) {
        this.options.logger.warn({ ...fields, err: error }, `could not delete the ${what}; retrying later`);
        return false;
      }
    }
    return true;
  }

  /**
   * True when the shard list is older than half the cleanup period (the refresh failed that
   * long, or the process was paused): it may still name a finished shard whose item another
   * instance has deleted since, which a scan would create anew and read again. The scan waits
   * for a fresh list; held leases are still renewed.
   */
  private listIsStale(): boolean {
    const stale = this.now() - this.offeredAt > this.cleanupAfterMs / 2;
    if (stale && !this.staleListLogged) {
      this.staleListLogged = true;
      this.options.logger.warn({}, 'shard list not refreshed for half the cleanup period; no leases taken until it is');
    }
    return stale;
  }

  private get cleanupAfterMs(): number {
    return this.options.cleanupAfterMs ?? CLEANUP_AFTER_MS;
  }

  /** The shard of a lease item the stream no longer lists (trimmed away). */
  private shardOf(item: LeaseItem): StreamShard {
    return {
      shardId: item.shardId,
      parentShardId: item.checkpoint.parentShardId,
      adjacentParentShardId: item.adjacentParentShardId,
    };
  }

  /** A new lease item for a shard never leased: free, not ended, with its lineage. */
  private async create(streamArn: string, shard: StreamShard): Promise<LeaseItem> {
    const item = {
      ...ShardLeases.keyOf(streamArn, shard.shardId),
      streamArn,
      shardId: shard.shardId,
      parentShardId: shard.parentShardId,
      adjacentParentShardId: shard.adjacentParentShardId,
      ended: false,
      leaseCounter: 0,
      createdAt: new Date().toISOString(),
    };
    try {
      await this.options.doc.send(
        new PutCommand({ TableName: this.options.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Another instance created it first: it is read at the next scan.
    }
    return {
      shardId: shard.shardId,
      counter: 0,
      adjacentParentShardId: shard.adjacentParentShardId,
      checkpoint: { shardId: shard.shardId, ended: false, parentShardId: shard.parentShardId },
    };
  }

  private async take(
    streamArn: string,
    item: LeaseItem,
    described: Map<string, StreamShard>,
    how: 'free' | 'expired' | 'stolen',
  ): Promise<void> {
    const started = this.now();
    const next = (item.counter ?? 0) + 1;
    try {
      const { Attributes } = await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: ShardLeases.keyOf(streamArn, item.shardId),
          UpdateExpression: 'SET #owner = :me, #counter = :next, acquiredAt = :at REMOVE #legacyOwner',
          // Never a lease whose shard ended meanwhile (checkpoint writes do not move the counter).
          ConditionExpression: `${
            item.counter === undefined ? 'attribute_not_exists(#counter)' : '#counter = :counter'
          } AND (attribute_not_exists(#ended) OR #ended = :false)`,
          ExpressionAttributeNames: {
            '#owner': 'leaseOwner',
            '#counter': 'leaseCounter',
            '#legacyOwner': 'owner',
            '#ended': 'ended',
          },
          ExpressionAttributeValues: {
            ':false': false,
            ':me': this.options.owner,
            ':next': next,
            ':at': new Date().toISOString(),
            ...(item.counter === undefined ? {} : { ':counter': item.counter }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const checkpoint = toCheckpoint(Attributes ?? {});
      this.terms += 1;
      const shard = described.get(item.shardId) ?? this.shardOf(item);
      this.held.set(item.shardId, {
        streamArn,
        counter: next,
        validUntil: started + this.validity(),
        term: this.terms,
        shard,
        vanished: !described.has(item.shardId),
        checkpoint: { ...checkpoint, shardId: item.shardId },
        queue: Promise.resolve(),
      });
      this.observed.delete(item.shardId);
      this.options.metrics?.acquisitions.inc({ how });
      this.options.logger.info(
        { shardId: item.shardId, counter: next, how, previousOwner: item.owner ?? null },
        'shard lease taken',
      );
      this.publishGauge();
      this.options.onChange?.();
    } catch (error) {
      if (isConditionFailure(error)) return; // another instance was faster
      throw error;
    }
  }

  private lose(shardId: string, reason: string, message: string): void {
    if (!this.held.has(shardId)) return;
    this.options.logger.warn({ shardId, reason }, `giving up shard: ${message}`);
    this.options.metrics?.losses.inc({ reason });
    this.drop(shardId);
  }

  private drop(shardId: string): void {
    this.held.delete(shardId);
    this.publishGauge();
    this.options.onChange?.();
  }

  private publishGauge(): void {
    this.options.metrics?.shardsOwned.set(this.ownedCount);
  }

  /** The holder stops acting a fifth of the lease early, which covers clock rate differences. */
  private validity(): number {
    return this.options.leaseDurationMs * 0.8;
  }
}

/** The checkpoint attributes of a lease item. */
/** The checkpoint stored in a shard's item of the relay state table. */
export function toCheckpoint(item: Record<string, unknown>): ShardCheckpoint {
  return {
    shardId: item.shardId as string,
    sequenceNumber: typeof item.sequenceNumber === 'string' ? item.sequenceNumber : undefined,
    ended: item.ended === true,
    parentShardId: typeof item.parentShardId === 'string' ? item.parentShardId : undefined,
    lastOccurredAt: typeof item.lastOccurredAt === 'string' ? item.lastOccurredAt : undefined,
    lastServerTimeMs: typeof item.lastServerTimeMs === 'number' ? item.lastServerTimeMs : undefined,
    trimBackfilled: item.trimBackfilled === true ? true : undefined,
  };
}

const OPTIONAL_FIELDS = [
  'sequenceNumber',
  'parentShardId',
  'lastOccurredAt',
  'lastServerTimeMs',
  'trimBackfilled',
] as const;

function checkpointFields(checkpoint: ShardCheckpoint): Record<string, unknown> {
  const fields: Record<string, unknown> = { ended: checkpoint.ended, updatedAt: new Date().toISOString() };
  for (const name of OPTIONAL_FIELDS) if (checkpoint[name] !== undefined) fields[name] = checkpoint[name];
  return fields;
}

function checkpointRemovals(checkpoint: ShardCheckpoint): string[] {
  return OPTIONAL_FIELDS.filter((name) => checkpoint[name] === undefined);
}

/** Every shard item (lease and checkpoint) of a stream in the relay state table, read consistently. */
export async function queryShardItems(
  doc: DynamoDBDocumentClient,
  table: string,
  streamArn: string,
): Promise<Record<string, unknown>[]> {
  return queryAll(doc, {
    TableName: table,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :shard)',
    ExpressionAttributeValues: { ':pk': `STREAM#${streamArn}`, ':shard': 'SHARD#' },
    ConsistentRead: true,
  });
}

/** Every item a query matches, page after page. */
async function queryAll(doc: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
