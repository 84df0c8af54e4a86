import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AppError, type Logger } from '@outbox/shared';
import type { Counter, Gauge } from 'prom-client';

/** What a fenced write must check: the lease item still names this owner with this counter. */
export interface LeaseFence {
  table: string;
  key: { pk: string; sk: string };
  owner: string;
  counter: number;
}

/** Metrics the lease keeps up to date. */
export interface LeaseMetrics {
  leader: Gauge;
  acquisitions: Counter;
  losses: Counter<'reason'>;
}

/** Options for {@link LeaderLease}. */
export interface LeaderLeaseOptions {
  doc: DynamoDBDocumentClient;
  /** The RelayState table. */
  table: string;
  /** Names the group of relays that compete for one lease (the outbox table's name). */
  leaseName: string;
  /** This instance's name, stored as the lease owner. */
  owner: string;
  /** A standby takes over once the lease counter has not moved for this long on its own clock. */
  leaseDurationMs: number;
  /** How often the leader renews and a standby looks at the lease. */
  renewIntervalMs: number;
  logger: Logger;
  metrics?: LeaseMetrics;
  /** A monotonic clock in ms (default `performance.now`); tests inject their own. */
  monotonicNow?: () => number;
  /** Called when this instance becomes leader or stops being leader. */
  onChange?: (leader: boolean) => void;
}

/** The error a fenced write throws when this instance no longer holds the lease. */
export class LeaseLostError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('lease.lost', message, { retriable: false, cause });
    this.name = 'LeaseLostError';
  }
}

interface Held {
  counter: number;
  /** Monotonic time after which this instance must no longer act as leader. */
  validUntil: number;
  /** Increases with every acquisition, so the relay can tell a new term from the old one. */
  term: number;
}

/**
 * A leader lease in DynamoDB, modelled on KCL's: one item holds the owner and a counter that
 * every write moves and every write is conditioned on. The counter is the fencing token.
 *
 * - The leader renews every `renewIntervalMs`; it counts itself leader only until
 *   `renewStart + 80 % of leaseDurationMs`, so it stops acting before any standby can take over.
 * - A standby remembers when (on its own monotonic clock) it first saw the current counter; once
 *   the counter has not moved for `leaseDurationMs`, it takes the lease with a write conditioned on
 *   that counter. No wall clocks are compared between machines.
 * - A failed renewal condition means someone else took the lease: the leader steps down at once.
 * - `release()` clears the owner, so a standby takes over at its next look instead of waiting.
 * - Lease writes and fenced writes ({@link fenced}) run one at a time, so a checkpoint never races
 *   this instance's own renewal.
 */
export class LeaderLease {
  private readonly options: LeaderLeaseOptions;
  private readonly now: () => number;
  private held?: Held;
  private observed?: { counter: number; owner?: string; since: number };
  private terms = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(options: LeaderLeaseOptions) {
    if (options.renewIntervalMs * 2 > options.leaseDurationMs) {
      throw new AppError('config.invalid', 'The lease renew interval must be at most half the lease duration');
    }
    this.options = options;
    this.now = options.monotonicNow ?? (() => performance.now());
  }

  /** The lease item's key. */
  get key(): { pk: string; sk: string } {
    return { pk: `LEASE#${this.options.leaseName}`, sk: 'LEADER' };
  }

  /** True while this instance holds the lease and may publish and checkpoint. */
  isLeader(): boolean {
    return this.held !== undefined && this.now() < this.held.validUntil;
  }

  /** True while this instance has the lease, valid or lapsed (a renewal will tell whether it is still its own). */
  get retained(): boolean {
    return this.held !== undefined;
  }

  /** The current term (changes with every acquisition), or undefined when not leader. */
  get term(): number | undefined {
    return this.isLeader() ? this.held?.term : undefined;
  }

  /** Starts looking at (and renewing) the lease in the background. */
  start(): void {
    if (this.timer || this.stopped) return;
    const loop = () => {
      this.tick()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, 'lease check failed'))
        .finally(() => {
          if (this.stopped) return;
          this.timer = setTimeout(loop, this.options.renewIntervalMs);
          this.timer.unref();
        });
    };
    this.timer = setTimeout(loop, 0);
    this.timer.unref();
  }

  /** One look at the lease: renew when leader, else try to acquire. Exposed for tests. */
  tick(): Promise<void> {
    return this.serialize(async () => {
      if (this.stopped) return;
      // A lapsed lease (a pause, a slow call) acts no more, but a renewal conditioned on the
      // counter proves nobody took it meanwhile: then it leads on, without a new term.
      if (this.held) await this.renew();
      else await this.tryAcquire();
    });
  }

  /**
   * Runs a write that must only succeed while this instance leads: `write` receives the fence to
   * condition on. A write refused by the fence makes this instance step down and throws
   * {@link LeaseLostError}.
   */
  fenced<T>(write: (fence: LeaseFence) => Promise<T>): Promise<T> {
    return this.serialize(async () => {
      if (!this.isLeader() || !this.held) throw new LeaseLostError('not the leader');
      try {
        return await write({
          table: this.options.table,
          key: this.key,
          owner: this.options.owner,
          counter: this.held.counter,
        });
      } catch (error) {
        if (error instanceof LeaseLostError) this.lose('fenced', error.message);
        throw error;
      }
    });
  }

  /** Stops the background loop and hands the lease back so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.serialize(async () => {
      const held = this.held;
      if (!held) return;
      this.setHeld(undefined);
      try {
        await this.advanceCounter(held.counter, 'releasedAt = :at REMOVE #owner');
        this.options.logger.info({ counter: held.counter + 1 }, 'lease released');
      } catch (error) {
        // Someone already took it, or DynamoDB is away: either way a standby gets it in time.
        this.options.logger.warn({ err: error }, 'lease release failed');
      }
    });
  }

  /**
   * Moves the counter on from `counter`, on the condition that this instance still holds the lease
   * at that counter (the KCL scheme); `rest` adds to the update (a timestamp, the owner's removal).
   */
  private async advanceCounter(counter: number, rest: string): Promise<void> {
    await this.options.doc.send(
      new UpdateCommand({
        TableName: this.options.table,
        Key: this.key,
        UpdateExpression: `SET #counter = :next, ${rest}`,
        ConditionExpression: '#owner = :me AND #counter = :counter',
        ExpressionAttributeNames: { '#owner': 'owner', '#counter': 'counter' },
        ExpressionAttributeValues: {
          ':me': this.options.owner,
          ':counter': counter,
          ':next': counter + 1,
          ':at': new Date().toISOString(),
        },
      }),
    );
  }

  private serialize<T>(action: () => Promise<T>): Promise<T> {
    const next = this.queue.then(action, action);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async renew(): Promise<void> {
    const held = this.held as Held;
    const started = this.now();
    try {
      await this.advanceCounter(held.counter, 'renewedAt = :at');
      held.counter += 1;
      held.validUntil = started + this.validity();
    } catch (error) {
      if (isConditionFailure(error)) {
        if (await this.adoptOwnCounter(held)) return;
        this.lose('taken', 'renewal refused: another instance holds the lease');
        return;
      }
      // A transient failure: keep leading until the validity runs out, then step down.
      this.options.logger.warn({ err: error }, 'lease renewal failed; retrying');
    }
  }

  /**
   * A renewal that timed out here may still have been applied: when the item still names this
   * instance, only this instance wrote it since (a taker writes its own name), so its counter is
   * adopted and the next renewal goes on from it.
   */
  private async adoptOwnCounter(held: Held): Promise<boolean> {
    const { Item } = await this.options.doc
      .send(new GetCommand({ TableName: this.options.table, Key: this.key, ConsistentRead: true }))
      .catch(() => ({ Item: undefined }));
    if (Item?.owner !== this.options.owner || typeof Item.counter !== 'number') return false;
    held.counter = Item.counter;
    return true;
  }

  private async tryAcquire(): Promise<void> {
    const started = this.now();
    const { Item } = await this.options.doc.send(
      new GetCommand({ TableName: this.options.table, Key: this.key, ConsistentRead: true }),
    );
    if (!Item) {
      await this.acquire(started, undefined);
      return;
    }
    const counter = Number(Item.counter);
    const owner = typeof Item.owner === 'string' ? Item.owner : undefined;
    if (!this.observed || this.observed.counter !== counter) {
      // Counted from after the read returned: the write that set this counter happened before.
      this.observed = { counter, owner, since: this.now() };
    }
    // Released (no owner), or the counter stood still for a whole lease duration on our clock.
    if (owner === undefined || this.now() - this.observed.since >= this.options.leaseDurationMs) {
      await this.acquire(started, counter);
    }
  }

  private async acquire(started: number, expectedCounter: number | undefined): Promise<void> {
    const next = (expectedCounter ?? 0) + 1;
    const item = { ...this.key, owner: this.options.owner, counter: next, acquiredAt: new Date().toISOString() };
    try {
      await this.options.doc.send(
        expectedCounter === undefined
          ? new PutCommand({
              TableName: this.options.table,
              Item: item,
              ConditionExpression: 'attribute_not_exists(pk)',
            })
          : new PutCommand({
              TableName: this.options.table,
              Item: item,
              ConditionExpression: '#counter = :counter',
              ExpressionAttributeNames: { '#counter': 'counter' },
              ExpressionAttributeValues: { ':counter': expectedCounter },
            }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return; // another standby was faster
      throw error;
    }
    this.observed = undefined;
    this.terms += 1;
    this.setHeld({ counter: next, validUntil: started + this.validity(), term: this.terms });
    this.options.metrics?.acquisitions.inc();
    this.options.logger.info(
      { counter: next, previousOwner: expectedCounter === undefined ? null : 'lapsed or released' },
      'lease acquired',
    );
  }

  private lose(reason: string, message: string): void {
    if (!this.held) return;
    this.options.logger.warn({ reason }, `stepping down: ${message}`);
    this.options.metrics?.losses.inc({ reason });
    this.setHeld(undefined);
  }

  private setHeld(held: Held | undefined): void {
    const was = this.held !== undefined;
    this.held = held;
    this.options.metrics?.leader.set(held ? 1 : 0);
    if (was !== (held !== undefined)) this.options.onChange?.(held !== undefined);
  }

  /** The leader stops acting a fifth of the lease early, which covers clock rate differences. */
  private validity(): number {
    return this.options.leaseDurationMs * 0.8;
  }
}

/** True for a failed condition, alone or inside a cancelled transaction. */
export function isConditionFailure(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === 'ConditionalCheckFailedException';
}
