import { AppError, type OrderEventEnvelope } from '@outbox/shared';
import type { Inbox, RecordOutcome } from '../inbox/Inbox';
import { renderNotification } from './renderNotification';
import { validateOrderEvent } from './validateOrderEvent';
import type { WebhookChannel } from './WebhookChannel';

/** Options for {@link NotificationService}. */
export interface NotificationServiceOptions {
  inbox: Inbox;
  /** The optional webhook channel; notifications are only stored when unset. */
  webhook?: WebhookChannel;
  /** Called after each webhook attempt, for metrics. */
  onDelivery?: (outcome: 'delivered' | 'retriable' | 'rejected') => void;
}

/**
 * Turns one order event into its effects: validates it, renders the notification, records it
 * exactly once through the inbox and, with a webhook configured, delivers it until the receiver
 * accepts. A redelivered event whose webhook delivery never succeeded is delivered again (with the
 * same idempotency key), so a crash between storing and sending loses nothing.
 */
export class NotificationService {
  private readonly options: NotificationServiceOptions;

  constructor(options: NotificationServiceOptions) {
    this.options = options;
  }

  /** Throws a retriable {@link AppError} for transient failures, a permanent one for bad input. */
  async handle(envelope: OrderEventEnvelope): Promise<RecordOutcome> {
    const { inbox, webhook } = this.options;
    const event = validateOrderEvent(envelope);
    const notification = renderNotification(event);
    const outcome = await inbox.record(envelope, notification, webhook ? 'pending' : undefined);
    if (!webhook || (outcome !== 'stored' && outcome !== 'duplicate')) return outcome;

    const status = outcome === 'stored' ? 'pending' : await inbox.deliveryStatus(envelope);
    if (status !== 'pending' && status !== 'rejected') return outcome;
    try {
      await webhook.deliver(envelope.eventId, {
        eventId: envelope.eventId,
        eventType: envelope.eventType,
        seq: envelope.seq,
        occurredAt: envelope.occurredAt,
        ...notification,
      });
    } catch (error) {
      const appError =
        error instanceof AppError
          ? error
          : new AppError('webhook.unavailable', String(error), { retriable: true, cause: error });
      this.options.onDelivery?.(appError.retriable ? 'retriable' : 'rejected');
      if (!appError.retriable) await inbox.setDeliveryStatus(envelope, 'rejected', appError.message);
      throw appError;
    }
    this.options.onDelivery?.('delivered');
    await inbox.setDeliveryStatus(envelope, 'delivered');
    return outcome;
  }
}
