import {
  BatchGetCommand,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { outboxTimeIndexKeys } from '@outbox/shared';
import type { OrderCancelledPayload, OrderCreatedPayload, OrderEventEnvelope } from '@outbox/shared';
import type { Order, OrderLine, OrderStatus } from '../domain/Order';
import { WriteConflictError, storeUnavailable, type WriteConflictReason } from '../domain/errors';
import type { IdempotencyRecord } from './IdempotencyRecord';

/** Options for {@link OrderRepository}. */
export interface OrderRepositoryOptions {
  doc: DynamoDBDocumentClient;
  ordersTable: string;
  outboxTable: string;
  /** Days an outbox item lives before TTL removes it. */
  outboxRetentionDays: number;
  /** The clock for idempotency expiry checks; `Date.now` by default. */
  nowMs?: () => number;
}

/** The key of an order record in the `byCustomer` index, as a page of a listing ends on it. */
export interface CustomerIndexKey {
  pk: string;
  sk: string;
  gsi1pk: string;
  gsi1sk: string;
}

/** One page of a customer's orders, newest first. */
export interface OrderPage {
  orders: Order[];
  /** Where the next page starts; absent on the last page. */
  nextKey?: CustomerIndexKey;
}

/** Name of the global secondary index over `gsi1pk`/`gsi1sk` (see the Copilot addon template). */
export const CUSTOMER_INDEX = 'byCustomer';

export const orderPk = (orderId: string) => `ORDER#${orderId}`;
export const customerPk = (customerId: string) => `CUSTOMER#${customerId}`;
const itemSk = (lineNo: number) => `ITEM#${String(lineNo).padStart(3, '0')}`;
const idempotencyPk = (key: string) => `IDEMPOTENCY#${key}`;
// The key in the partition key, the caller in the sort key: neither can spill into the other.
const idempotencySk = (scope: string | undefined) => (scope === undefined ? 'IDEMPOTENCY' : `IDEMPOTENCY#${scope}`);

/**
 * The one place that writes the Orders and OrderOutbox tables: every change of an order, its
 * outbox event and (when the request had a key) its idempotency record commit together in one
 * `TransactWriteItems`, or not at all.
 */
export class OrderRepository {
  private readonly options: OrderRepositoryOptions;

  constructor(options: OrderRepositoryOptions) {
    this.options = options;
  }

  /** Writes a new order, its items, its first outbox event and the idempotency record atomically. */
  async saveNewOrder(
    order: Order,
    event: OrderEventEnvelope<OrderCreatedPayload>,
    idempotency?: IdempotencyRecord,
  ): Promise<void> {
    const { ordersTable } = this.options;
    const pk = orderPk(order.orderId);
    const actions: NonNullable<TransactWriteCommandInput['TransactItems']> = [
      {
        Put: {
          TableName: ordersTable,
          Item: { pk, sk: 'META', ...this.metaAttributes(order) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...order.items.map((line) => ({
        Put: {
          TableName: ordersTable,
          Item: { pk, sk: itemSk(line.lineNo), ...line },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      })),
      this.outboxPut(event),
    ];
    await this.transact(actions, idempotency);
  }

  /**
   * Writes a cancelled order over `previous`, conditioned on the stored version and status
   * still being the ones read, plus its `OrderCancelled` event (seq = new version) atomically.
   * Throws {@link WriteConflictError} (`order_changed`) when another writer got there first.
   */
  async saveCancellation(
    previous: Order,
    next: Order,
    event: OrderEventEnvelope<OrderCancelledPayload>,
    idempotency?: IdempotencyRecord,
  ): Promise<void> {
    const sets = ['#status = :status', '#version = :version', 'updatedAt = :updatedAt', 'cancelledAt = :cancelledAt'];
    const values: Record<string, unknown> = {
      ':status': next.status,
      ':version': next.version,
      ':updatedAt': next.updatedAt,
      ':cancelledAt': next.cancelledAt,
      ':expectedVersion': previous.version,
      ':expectedStatus': previous.status,
    };
    if (next.cancelReason !== undefined) {
      sets.push('cancelReason = :cancelReason');
      values[':cancelReason'] = next.cancelReason;
    }
    await this.transact(
      [
        {
          Update: {
            TableName: this.options.ordersTable,
            Key: { pk: orderPk(previous.orderId), sk: 'META' },
            UpdateExpression: `SET ${sets.join(', ')}`,
            ConditionExpression: '#version = :expectedVersion AND #status = :expectedStatus',
            ExpressionAttributeNames: { '#status': 'status', '#version': 'version' },
            ExpressionAttributeValues: values,
          },
        },
        this.outboxPut(event, previous.updatedAt),
      ],
      idempotency,
    );
  }

  /** Reads an order with its items, or `undefined` when it does not exist. */
  async findOrder(orderId: string): Promise<Order | undefined> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.options.doc.send(
          new QueryCommand({
            TableName: this.options.ordersTable,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': orderPk(orderId) },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
        items.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    } catch (error) {
      throw storeUnavailable(error);
    }
    const meta = items.find((item) => item.sk === 'META');
    if (!meta) return undefined;
    const lines = items
      .filter((item) => String(item.sk).startsWith('ITEM#'))
      .map((item): OrderLine => ({
        lineNo: Number(item.lineNo),
        productId: String(item.productId),
        quantity: Number(item.quantity),
        unitPriceMinor: Number(item.unitPriceMinor),
        lineTotalMinor: Number(item.lineTotalMinor),
      }))
      .sort((a, b) => a.lineNo - b.lineNo);
    return { ...this.orderFromMeta(meta), items: lines };
  }

  /**
   * A customer's orders, newest first, through the `byCustomer` index (order records only; the
   * lines are not read). Reads one record more than asked to know whether a next page exists.
   */
  async listOrdersByCustomer(customerId: string, limit: number, startKey?: CustomerIndexKey): Promise<OrderPage> {
    let page;
    try {
      page = await this.options.doc.send(
        new QueryCommand({
          TableName: this.options.ordersTable,
          IndexName: CUSTOMER_INDEX,
          KeyConditionExpression: 'gsi1pk = :pk',
          ExpressionAttributeValues: { ':pk': customerPk(customerId) },
          ScanIndexForward: false,
          Limit: limit + 1,
          ExclusiveStartKey: startKey,
        }),
      );
    } catch (error) {
      throw storeUnavailable(error);
    }
    const records = page.Items ?? [];
    const shown = records.slice(0, limit);
    const last = shown[shown.length - 1];
    const nextKey =
      records.length > limit && last
        ? { pk: String(last.pk), sk: String(last.sk), gsi1pk: String(last.gsi1pk), gsi1sk: String(last.gsi1sk) }
        : undefined;
    return { orders: shown.map((meta) => ({ ...this.orderFromMeta(meta), items: [] })), nextKey };
  }

  /** The live idempotency record for `key` of caller `scope` (strongly consistent), or `undefined`. */
  async findIdempotencyRecord(key: string, scope?: string): Promise<IdempotencyRecord | undefined> {
    let item;
    try {
      ({ Item: item } = await this.options.doc.send(
        new GetCommand({
          TableName: this.options.ordersTable,
          Key: { pk: idempotencyPk(key), sk: idempotencySk(scope) },
          ConsistentRead: true,
        }),
      ));
    } catch (error) {
      throw storeUnavailable(error);
    }
    // TTL deletes lazily (up to days later): an expired record counts as gone.
    if (!item || Number(item.expiresAt) <= this.nowSeconds()) return undefined;
    return {
      key,
      ...(scope === undefined ? {} : { scope }),
      requestHash: String(item.requestHash),
      status: Number(item.status),
      body: String(item.body),
      headers: (item.headers ?? {}) as Record<string, string>,
      createdAt: String(item.createdAt),
      expiresAt: Number(item.expiresAt),
    };
  }

  /**
   * Resolves when both tables answer a read, rejects otherwise: one `BatchGetItem` of a key that
   * never exists in each table (a data-plane call, so it proves what requests need).
   */
  async checkTablesReadable(): Promise<void> {
    await this.options.doc.send(
      new BatchGetCommand({
        RequestItems: {
          [this.options.ordersTable]: { Keys: [{ pk: 'READINESS', sk: 'PROBE' }] },
          [this.options.outboxTable]: { Keys: [{ aggregateId: 'READINESS', seq: 0 }] },
        },
      }),
    );
  }

  private async transact(
    actions: NonNullable<TransactWriteCommandInput['TransactItems']>,
    idempotency: IdempotencyRecord | undefined,
  ): Promise<void> {
    const all = idempotency ? [...actions, this.idempotencyPut(idempotency)] : actions;
    try {
      await this.options.doc.send(new TransactWriteCommand({ TransactItems: all }));
    } catch (error) {
      const reason = conflictReason(error, idempotency ? all.length - 1 : -1);
      if (!reason) throw storeUnavailable(error);
      throw new WriteConflictError(reason, error);
    }
  }

  private idempotencyPut(record: IdempotencyRecord) {
    return {
      Put: {
        TableName: this.options.ordersTable,
        Item: {
          pk: idempotencyPk(record.key),
          sk: idempotencySk(record.scope),
          requestHash: record.requestHash,
          status: record.status,
          body: record.body,
          headers: record.headers,
          createdAt: record.createdAt,
          expiresAt: record.expiresAt,
        },
        // A record that expired but TTL has not yet removed may be taken over.
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
        ExpressionAttributeValues: { ':now': this.nowSeconds() },
      },
    };
  }

  /**
   * The outbox item: the event, its TTL and its keys in the relay's time index (`byHour`), whose
   * hour never precedes that of the aggregate's previous event (`previousAt`).
   */
  private outboxPut(event: OrderEventEnvelope<object>, previousAt?: string) {
    const expiresAt = Math.floor(Date.parse(event.occurredAt) / 1000) + this.options.outboxRetentionDays * 86400;
    return {
      Put: {
        TableName: this.options.outboxTable,
        Item: { ...event, expiresAt, ...outboxTimeIndexKeys(event, previousAt) },
        // seq is the version: a second event with one seq would be a bug, never an overwrite.
        ConditionExpression: 'attribute_not_exists(aggregateId)',
      },
    };
  }

  private metaAttributes(order: Order): Record<string, unknown> {
    return {
      orderId: order.orderId,
      customerId: order.customerId,
      status: order.status,
      currency: order.currency,
      totalMinor: order.totalMinor,
      itemCount: order.itemCount,
      version: order.version,
      createdAt: order.createdAt,
      updatedAt: order.updatedAt,
      cancelledAt: order.cancelledAt,
      cancelReason: order.cancelReason,
      gsi1pk: customerPk(order.customerId),
      gsi1sk: `${order.createdAt}#${order.orderId}`,
    };
  }

  private orderFromMeta(meta: Record<string, unknown>): Omit<Order, 'items'> {
    return {
      orderId: String(meta.orderId),
      customerId: String(meta.customerId),
      status: meta.status as OrderStatus,
      currency: String(meta.currency),
      totalMinor: Number(meta.totalMinor),
      itemCount: Number(meta.itemCount),
      version: Number(meta.version),
      createdAt: String(meta.createdAt),
      updatedAt: String(meta.updatedAt),
      ...(meta.cancelledAt === undefined ? {} : { cancelledAt: String(meta.cancelledAt) }),
      ...(meta.cancelReason === undefined ? {} : { cancelReason: String(meta.cancelReason) }),
    };
  }

  private nowSeconds(): number {
    return Math.floor((this.options.nowMs ?? Date.now)() / 1000);
  }
}

/**
 * Reads why a transaction was cancelled. The idempotency record's condition wins over the
 * others: a request that lost its key to a twin must replay the twin's answer.
 */
function conflictReason(error: unknown, idempotencyIndex: number): WriteConflictReason | undefined {
  const e = error as { name?: string; CancellationReasons?: { Code?: string }[] };
  if (e?.name === 'TransactionConflictException') return 'transaction_conflict';
  if (e?.name !== 'TransactionCanceledException') return undefined;
  const codes = (e.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
  if (idempotencyIndex >= 0 && codes[idempotencyIndex] === 'ConditionalCheckFailed') return 'idempotency_key_taken';
  if (codes.includes('ConditionalCheckFailed')) return 'order_changed';
  if (codes.includes('TransactionConflict')) return 'transaction_conflict';
  return undefined;
}
