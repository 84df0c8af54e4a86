import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AppError, type OrderEventEnvelope } from '@outbox/shared';
import type { Notification } from './Notification';

/** Options for {@link Inbox}. */
export interface InboxOptions {
  doc: DynamoDBDocumentClient;
  table: string;
  retentionDays: number;
  /** Wall clock for timestamps and TTLs; injectable for tests. */
  now?: () => Date;
}

/**
 * What recording an event did: `stored` (the notification, marker and cursor committed),
 * `duplicate` (this event id was processed before), `stale` (another event already moved the
 * aggregate's cursor to or past this seq), `gap` (an earlier seq of the aggregate is missing).
 */
export type RecordOutcome = 'stored' | 'duplicate' | 'stale' | 'gap';

/**
 * Webhook delivery state kept on the notification record: `exhausted` when transient failures
 * used up the event's retry budget (attempts or time), `rejected` on a permanent refusal.
 */
export type DeliveryStatus = 'pending' | 'delivered' | 'rejected' | 'exhausted';

/** The retry budget used so far by an event's failed webhook deliveries. */
export interface DeliveryFailures {
  attempts: number;
  firstFailedAt: Date;
}

const seqKey = (seq: number) => `NOTIFICATION#${String(seq).padStart(10, '0')}`;

/**
 * Records processed events and their effects together. One transaction writes the inbox
 * marker (`INBOX#<eventId>`, must not exist), moves the aggregate's cursor
 * (`AGGREGATE#<id>`/`CURSOR`, conditioned on `lastSeq = seq - 1`, or absent for seq 1) and stores
 * the notification (`AGGREGATE#<id>`/`NOTIFICATION#<seq>`): all three or none.
 */
export class Inbox {
  private readonly options: InboxOptions;
  private readonly now: () => Date;

  constructor(options: InboxOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  /** Stores the notification exactly once, in `seq` order per aggregate. */
  async record(
    event: OrderEventEnvelope,
    notification: Notification,
    delivery?: DeliveryStatus,
  ): Promise<RecordOutcome> {
    const { table, retentionDays } = this.options;
    const now = this.now();
    const expiresAt = Math.floor(now.getTime() / 1000) + retentionDays * 86400;
    const aggregateKey = `AGGREGATE#${event.aggregateId}`;
    try {
      await this.options.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: table,
                Item: {
                  pk: `INBOX#${event.eventId}`,
                  sk: 'INBOX',
                  aggregateId: event.aggregateId,
                  seq: event.seq,
                  processedAt: now.toISOString(),
                  expiresAt,
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Update: {
                TableName: table,
                Key: { pk: aggregateKey, sk: 'CURSOR' },
                UpdateExpression: 'SET lastSeq = :seq, lastEventId = :eventId, updatedAt = :now',
                ConditionExpression: event.seq === 1 ? 'attribute_not_exists(lastSeq)' : 'lastSeq = :previous',
                ExpressionAttributeValues: {
                  ':seq': event.seq,
                  ':eventId': event.eventId,
                  ':now': now.toISOString(),
                  ...(event.seq === 1 ? {} : { ':previous': event.seq - 1 }),
                },
              },
            },
            {
              Put: {
                TableName: table,
                Item: {
                  pk: aggregateKey,
                  sk: seqKey(event.seq),
                  eventId: event.eventId,
                  eventType: event.eventType,
                  seq: event.seq,
                  occurredAt: event.occurredAt,
                  ...notification,
                  ...(delivery ? { deliveryStatus: delivery } : {}),
                  createdAt: now.toISOString(),
                },
              },
            },
          ],
        }),
      );
      return 'stored';
    } catch (error) {
      const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
      if (reasons?.[0]?.Code === 'ConditionalCheckFailed') return 'duplicate';
      if (reasons?.[1]?.Code === 'ConditionalCheckFailed') {
        const lastSeq = await this.lastSeq(event.aggregateId);
        return lastSeq !== undefined && lastSeq >= event.seq ? 'stale' : 'gap';
      }
      throw this.failure(error, 'Could not record the notification');
    }
  }

  /** The aggregate's cursor: the highest seq whose notification is stored. */
  async lastSeq(aggregateId: string): Promise<number | undefined> {
    try {
      const { Item } = await this.options.doc.send(
        new GetCommand({
          TableName: this.options.table,
          Key: { pk: `AGGREGATE#${aggregateId}`, sk: 'CURSOR' },
          ConsistentRead: true,
        }),
      );
      return typeof Item?.lastSeq === 'number' ? Item.lastSeq : undefined;
    } catch (error) {
      throw this.failure(error, 'Could not read the aggregate cursor');
    }
  }

  /** The webhook delivery state of the event's notification (undefined when none was asked for). */
  async deliveryStatus(event: OrderEventEnvelope): Promise<DeliveryStatus | undefined> {
    try {
      const { Item } = await this.options.doc.send(
        new GetCommand({
          TableName: this.options.table,
          Key: { pk: `AGGREGATE#${event.aggregateId}`, sk: seqKey(event.seq) },
          ConsistentRead: true,
        }),
      );
      // Another event may hold this seq (a stale duplicate); only its own notification counts.
      if (Item?.eventId !== event.eventId) return undefined;
      return Item.deliveryStatus as DeliveryStatus | undefined;
    } catch (error) {
      throw this.failure(error, 'Could not read the notification');
    }
  }

  /**
   * Records the outcome of a webhook delivery on the notification. `pending` also clears the
   * failure count, so a redriven event gets a fresh retry budget.
   */
  async setDeliveryStatus(event: OrderEventEnvelope, status: DeliveryStatus, detail?: string): Promise<void> {
    try {
      await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: { pk: `AGGREGATE#${event.aggregateId}`, sk: seqKey(event.seq) },
          UpdateExpression:
            'SET deliveryStatus = :status, deliveryUpdatedAt = :now, deliveryDetail = :detail' +
            (status === 'pending' ? ' REMOVE deliveryAttempts, deliveryFirstFailedAt' : ''),
          ConditionExpression: 'eventId = :eventId',
          ExpressionAttributeValues: {
            ':status': status,
            ':now': this.now().toISOString(),
            ':detail': (detail ?? status).slice(0, 1000),
            ':eventId': event.eventId,
          },
        }),
      );
    } catch (error) {
      throw this.failure(error, 'Could not record the delivery');
    }
  }

  /**
   * Counts one transiently failed delivery on the notification and returns the budget used so
   * far. Kept in the table, so the budget holds across redeliveries, restarts and rebalances.
   */
  async recordDeliveryFailure(event: OrderEventEnvelope, detail: string): Promise<DeliveryFailures> {
    const now = this.now();
    try {
      const { Attributes } = await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: { pk: `AGGREGATE#${event.aggregateId}`, sk: seqKey(event.seq) },
          UpdateExpression:
            'SET deliveryStatus = :pending, deliveryUpdatedAt = :now, deliveryDetail = :detail, ' +
            'deliveryFirstFailedAt = if_not_exists(deliveryFirstFailedAt, :now) ADD deliveryAttempts :one',
          ConditionExpression: 'eventId = :eventId',
          ExpressionAttributeValues: {
            ':pending': 'pending',
            ':now': now.toISOString(),
            ':detail': detail.slice(0, 1000),
            ':one': 1,
            ':eventId': event.eventId,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const firstFailedAt = new Date(String(Attributes?.deliveryFirstFailedAt ?? now.toISOString()));
      return { attempts: Number(Attributes?.deliveryAttempts ?? 1), firstFailedAt };
    } catch (error) {
      throw this.failure(error, 'Could not record the failed delivery');
    }
  }

  private failure(error: unknown, message: string): AppError {
    if (error instanceof AppError) return error;
    // A request DynamoDB refuses as malformed will never succeed; everything else (throttling,
    // timeouts, a transaction conflict, the service being down) may, so it is retried.
    const name = (error as { name?: string }).name;
    if (name === 'ValidationException' || name === 'ConditionalCheckFailedException') {
      return new AppError('inbox.rejected', `${message}: ${(error as Error).message}`, {
        retriable: false,
        cause: error,
      });
    }
    return new AppError('inbox.unavailable', message, { retriable: true, cause: error });
  }
}
