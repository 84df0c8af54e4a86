import { BatchGetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  AppError,
  OUTBOX_TIME_INDEX,
  exponentialBackoff,
  hourStart,
  nextHour,
  outboxTimeIndexPartitionKeys,
} from '@outbox/shared';
import type { SourceRecord } from '../source/StreamShard';

/** Which outbox events to re-read. */
export interface BackfillWindow {
  /**
   * Earliest `occurredAt` wanted, in ms. Per aggregate, once one event is in, every later one
   * is too (no gap inside an aggregate). `undefined`: as far back as the table holds events.
   */
  fromMs?: number;
  /** Latest `occurredAt` wanted, in ms; `undefined`: everything, however far ahead writers' clocks ran. */
  toMs?: number;
  /** Only this aggregate's events. */
  aggregateId?: string;
}

/** Reads outbox events the stream no longer holds; the relay fakes it in unit tests. */
export interface BackfillSource {
  /**
   * The window's events as INSERT records, page by page (a page holds at most a few hundred),
   * each aggregate's events in `seq` order. Memory does not grow with the table.
   */
  read(window: BackfillWindow): AsyncIterable<SourceRecord[]>;
}

/** Options for {@link OutboxBackfill}. */
export interface OutboxBackfillOptions {
  doc: DynamoDBDocumentClient;
  /** The OrderOutbox table. */
  table: string;
  /** How far back a window without a start reaches, in ms (longer than the outbox retention). */
  lookBackMs: number;
  /** How far ahead of now a window without an end reaches, in ms (writers' clocks may run ahead). */
  lookAheadMs: number;
  /** Wall clock, ms since epoch. */
  now?: () => number;
  /** Attempts for a BatchGetItem whose keys stay unprocessed (throttling), default 8. */
  maxGetAttempts?: number;
}

type Item = Record<string, unknown>;
type Key = { aggregateId: string; seq: number };

/** BatchGetItem takes at most 100 keys. */
const GET_CHUNK = 100;
/** BatchGetItem calls in flight while a backfill reads. */
const GETS_AHEAD = 4;

/**
 * Re-reads outbox events from the OrderOutbox table through its sparse `byHour` index
 * (KEYS_ONLY; docs/adr/outbox-relay-backfill-by-time-index.md). The hours are read oldest
 * first, each hour's index partitions one after another, each partition in its sort order
 * (aggregate, then seq); the items themselves come from the table by BatchGetItem, 100 at a
 * time, consistently. An aggregate's events never go back an hour in `seq` (the order-api keys
 * them so), hence each aggregate comes out in `seq` order, with memory bounded by one index page.
 */
export class OutboxBackfill implements BackfillSource {
  private readonly options: OutboxBackfillOptions;
  private readonly getBackoff = exponentialBackoff({ initialMs: 50, maxMs: 2000 });

  constructor(options: OutboxBackfillOptions) {
    this.options = options;
  }

  async *read(window: BackfillWindow): AsyncIterable<SourceRecord[]> {
    const filter = new WindowFilter(window);
    if (window.aggregateId !== undefined) {
      yield* this.readAggregate(window.aggregateId, filter);
      return;
    }
    const now = (this.options.now ?? Date.now)();
    const firstHour = hourStart(window.fromMs ?? now - this.options.lookBackMs);
    const lastHour = hourStart(window.toMs ?? now + this.options.lookAheadMs);
    for (let hour = firstHour; hour <= lastHour; hour = nextHour(hour)) {
      // Only the first hour can hold events from before the window; later hours count whole
      // (an event keyed into a later hour than its own time follows a newer one of its aggregate).
      filter.startHour(hour === firstHour);
      for (const partitionKey of outboxTimeIndexPartitionKeys(hour)) {
        let startKey: Item | undefined;
        do {
          const page = await this.options.doc.send(
            new QueryCommand({
              TableName: this.options.table,
              IndexName: OUTBOX_TIME_INDEX,
              KeyConditionExpression: 'gsi1pk = :pk',
              ExpressionAttributeValues: { ':pk': partitionKey },
              ExclusiveStartKey: startKey,
            }),
          );
          const keys = (page.Items ?? []).map((item) => ({
            aggregateId: String(item.aggregateId),
            seq: Number(item.seq),
          }));
          // A few BatchGetItem calls run ahead of the one being yielded: faster, still bounded.
          let next = 0;
          const gets: Promise<Item[]>[] = [];
          const fill = () => {
            while (gets.length < GETS_AHEAD && next < keys.length) {
              const get = this.getItems(keys.slice(next, next + GET_CHUNK));
              get.catch(() => undefined); // awaited in turn below; a later one failing first is not unhandled
              gets.push(get);
              next += GET_CHUNK;
            }
          };
          fill();
          while (gets.length > 0) {
            const items = await (gets.shift() as Promise<Item[]>);
            fill();
            const records = filter.apply(items);
            if (records.length > 0) yield records;
          }
          startKey = page.LastEvaluatedKey;
        } while (startKey);
      }
    }
  }

  /** One aggregate straight from the table, in seq order. */
  private async *readAggregate(aggregateId: string, filter: WindowFilter): AsyncIterable<SourceRecord[]> {
    filter.startHour(true);
    let startKey: Item | undefined;
    do {
      const page = await this.options.doc.send(
        new QueryCommand({
          TableName: this.options.table,
          KeyConditionExpression: 'aggregateId = :id',
          ExpressionAttributeValues: { ':id': aggregateId },
          ConsistentRead: true,
          Limit: GET_CHUNK,
          ExclusiveStartKey: startKey,
        }),
      );
      const records = filter.apply(page.Items ?? []);
      if (records.length > 0) yield records;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  /** The items of `keys`, in the order of `keys`; one TTL removed meanwhile is left out. */
  private async getItems(keys: Key[]): Promise<Item[]> {
    const found = new Map<string, Item>();
    let pending: Key[] = keys;
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > (this.options.maxGetAttempts ?? 8)) {
        throw new AppError(
          'backfill.unprocessed',
          `${pending.length} outbox items stayed unprocessed by BatchGetItem`,
          {
            retriable: true,
          },
        );
      }
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, this.getBackoff(attempt - 1)));
      const { Responses, UnprocessedKeys } = await this.options.doc.send(
        new BatchGetCommand({ RequestItems: { [this.options.table]: { Keys: pending, ConsistentRead: true } } }),
      );
      for (const item of Responses?.[this.options.table] ?? []) found.set(keyOf(item), item);
      pending = (UnprocessedKeys?.[this.options.table]?.Keys ?? []) as Key[];
    }
    return keys.map((key) => found.get(keyOf(key))).filter((item): item is Item => item !== undefined);
  }
}

function keyOf(item: { aggregateId?: unknown; seq?: unknown }): string {
  return `${String(item.aggregateId)}\u0000${String(item.seq)}`;
}

/**
 * Applies a window to items that come grouped by aggregate in seq order: before `fromMs` an
 * item is left out until its aggregate had one inside (then the rest of the aggregate follows,
 * so a writer clock running backwards leaves no gap); after `toMs` the aggregate's rest is left out.
 */
class WindowFilter {
  private firstHour = true;
  private current?: { aggregateId: string; started: boolean; ended: boolean };

  constructor(private readonly window: BackfillWindow) {}

  startHour(first: boolean): void {
    this.firstHour = first;
    this.current = undefined;
  }

  apply(items: Item[]): SourceRecord[] {
    const { fromMs, toMs } = this.window;
    const records: SourceRecord[] = [];
    for (const item of items) {
      const aggregateId = String(item.aggregateId);
      if (this.current?.aggregateId !== aggregateId) {
        this.current = { aggregateId, started: !this.firstHour || fromMs === undefined, ended: false };
      }
      const at = Date.parse(String(item.occurredAt));
      // An unreadable occurredAt counts as inside: the relay dead-letters it with its reason.
      if (!this.current.started && !(at < (fromMs as number))) this.current.started = true;
      if (toMs !== undefined && at > toMs) this.current.ended = true;
      if (!this.current.started || this.current.ended) continue;
      records.push({
        shardId: 'backfill',
        sequenceNumber: `${aggregateId}#${String(item.seq)}`,
        eventName: 'INSERT',
        newImage: item,
      });
    }
    return records;
  }
}
