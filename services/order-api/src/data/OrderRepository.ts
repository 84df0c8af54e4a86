import { QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { OrderEventEnvelope } from '@outbox/shared';
import type { Order, OrderLine, OrderStatus } from '../domain/Order';
import { storeUnavailable } from '../domain/errors';

/** Options for {@link OrderRepository}. */
export interface OrderRepositoryOptions {
  doc: DynamoDBDocumentClient;
  ordersTable: string;
  outboxTable: string;
  /** Days an outbox item lives before TTL removes it. */
  outboxRetentionDays: number;
}

const orderPk = (orderId: string) => `ORDER#${orderId}`;
const itemSk = (lineNo: number) => `ITEM#${String(lineNo).padStart(3, '0')}`;

/**
 * The one place that writes the Orders and OrderOutbox tables: every change of an order and its
 * outbox event commit together in one `TransactWriteItems`, or not at all.
 */
export class OrderRepository {
  private readonly options: OrderRepositoryOptions;

  constructor(options: OrderRepositoryOptions) {
    this.options = options;
  }

  /** Writes a new order, its items and its first outbox event atomically. */
  async saveNewOrder(order: Order, event: OrderEventEnvelope<object>): Promise<void> {
    const { ordersTable, outboxTable } = this.options;
    const pk = orderPk(order.orderId);
    try {
      await this.options.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: ordersTable,
                Item: {
                  pk,
                  sk: 'META',
                  orderId: order.orderId,
                  customerId: order.customerId,
                  status: order.status,
                  currency: order.currency,
                  totalMinor: order.totalMinor,
                  itemCount: order.items.length,
                  version: order.version,
                  createdAt: order.createdAt,
                  updatedAt: order.updatedAt,
                  gsi1pk: `CUSTOMER#${order.customerId}`,
                  gsi1sk: `${order.createdAt}#${order.orderId}`,
                },
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
            { Put: { TableName: outboxTable, Item: this.outboxItem(event), ConditionExpression: 'attribute_not_exists(aggregateId)' } },
          ],
        }),
      );
    } catch (error) {
      throw storeUnavailable(error);
    }
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
      .map(
        (item): OrderLine => ({
          lineNo: Number(item.lineNo),
          productId: String(item.productId),
          quantity: Number(item.quantity),
          unitPriceMinor: Number(item.unitPriceMinor),
          lineTotalMinor: Number(item.lineTotalMinor),
        }),
      )
      .sort((a, b) => a.lineNo - b.lineNo);
    return {
      orderId: String(meta.orderId),
      customerId: String(meta.customerId),
      status: meta.status as OrderStatus,
      currency: String(meta.currency),
      totalMinor: Number(meta.totalMinor),
      version: Number(meta.version),
      createdAt: String(meta.createdAt),
      updatedAt: String(meta.updatedAt),
      items: lines,
    };
  }

  private outboxItem(event: OrderEventEnvelope<object>): Record<string, unknown> {
    const expiresAt = Math.floor(Date.parse(event.occurredAt) / 1000) + this.options.outboxRetentionDays * 86400;
    return { ...event, expiresAt };
  }
}
