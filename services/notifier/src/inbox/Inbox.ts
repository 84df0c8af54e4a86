import { TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AppError, type OrderEventEnvelope } from '@outbox/shared';
import type { Notification } from '../notify/renderNotification';

/** Options for {@link Inbox}. */
export interface InboxOptions {
  doc: DynamoDBDocumentClient;
  table: string;
  retentionDays: number;
}

/**
 * Records processed events and their effects together: the inbox marker (event id) and the
 * notification commit in one transaction, so a redelivered event finds its marker and has no
 * second effect.
 */
export class Inbox {
  private readonly options: InboxOptions;

  constructor(options: InboxOptions) {
    this.options = options;
  }

  /** Stores the notification once; returns `'duplicate'` when the event was already processed. */
  async record(event: OrderEventEnvelope, notification: Notification): Promise<'stored' | 'duplicate'> {
    const now = new Date();
    const expiresAt = Math.floor(now.getTime() / 1000) + this.options.retentionDays * 86400;
    try {
      await this.options.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.options.table,
                Item: { pk: `INBOX#${event.eventId}`, sk: 'INBOX', aggregateId: event.aggregateId, seq: event.seq, processedAt: now.toISOString(), expiresAt },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.options.table,
                Item: {
                  pk: `AGGREGATE#${event.aggregateId}`,
                  sk: `NOTIFICATION#${String(event.seq).padStart(10, '0')}`,
                  eventId: event.eventId,
                  eventType: event.eventType,
                  seq: event.seq,
                  ...notification,
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
      throw new AppError('inbox.unavailable', 'Could not record the notification', { retriable: true, cause: error });
    }
  }
}
