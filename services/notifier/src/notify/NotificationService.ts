import { AppError, type OrderEventEnvelope } from '@outbox/shared';
import type { Inbox, RecordOutcome } from '../inbox/Inbox';
import { renderNotification } from './renderNotification';
import { validateOrderEvent } from './validateOrderEvent';
import type { WebhookChannel } from './WebhookChannel';

/** How long one event's webhook delivery is retried after transient failures. */
export interface WebhookRetryBudget {
  /** Failed attempts after which the event is given up (`webhook.exhausted`). */
  maxAttempts: number;
  /** Time since the first failure after which the event is given up. */
  maxMs: number;
}

/** Options for {@link NotificationService}. */
export interface NotificationServiceOptions {
  inbox: Inbox;
  /** The optional webhook channel; notifications are only stored when unset. */
  webhook?: WebhookChannel;
  /** Retry budget per event for transient webhook failures. */
  webhookRetry: WebhookRetryBudget;
  /** Called after each webhook attempt, for metrics. */
  onDelivery?: (outcome: 'delivered' | 'retriable' | 'rejected' | 'exhausted') => void;
  /** Wall clock for the retry budget (kept in the table across processes); injectable for tests. */
  now?: () => Date;
}

/** How the event reached the notifier. */
export interface HandleOptions {
  /** Replayed from the dead-letter topic: an earlier `rejected` or `exhausted` delivery is tried afresh. */
  redriven?: boolean;
}

/**
 * Turns one order event into its effects: validates it, renders the notification, records it
 * exactly once through the inbox and, with a webhook configured, delivers it. A redelivered event
 * whose delivery is still `pending` is delivered again (same idempotency key), so a crash between
 * storing and sending loses nothing. Transient webhook failures are retried (the caller redelivers)
 * within a budget per event, counted on the notification record; past it the delivery is
 * `exhausted` and a permanent `webhook.exhausted` error lets the caller dead-letter the event and
 * move on. The notification itself stays stored: the inbox and the cursor never roll back.
 */
export class NotificationService {
  private readonly options: NotificationServiceOptions;
  private readonly now: () => Date;

  constructor(options: NotificationServiceOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  /** Throws a retriable {@link AppError} for transient failures, a permanent one for bad input. */
  async handle(envelope: OrderEventEnvelope, handleOptions: HandleOptions = {}): Promise<RecordOutcome> {
    const { inbox, webhook } = this.options;
    const event = validateOrderEvent(envelope);
    const notification = renderNotification(event);
    const outcome = await inbox.record(envelope, notification, webhook ? 'pending' : undefined);
    if (!webhook || (outcome !== 'stored' && outcome !== 'duplicate')) return outcome;

    const status = outcome === 'stored' ? 'pending' : await inbox.deliveryStatus(envelope);
    if (status === 'exhausted' && !handleOptions.redriven) {
      // Redelivered after it was given up (a crash before the dead letter was committed): give up again.
      throw new AppError('webhook.exhausted', 'Webhook delivery was given up before', { retriable: false });
    }
    if (status !== 'pending' && status !== 'rejected' && status !== 'exhausted') return outcome;
    if (status === 'exhausted') await inbox.setDeliveryStatus(envelope, 'pending', 'redriven');
    try {
      await webhook.deliver(envelope.eventId, {
        eventId: envelope.eventId,
        eventType: envelope.eventType,
        seq: envelope.seq,
        occurredAt: envelope.occurredAt,
        ...notification,
      });
    } catch (error) {
      throw await this.deliveryFailed(envelope, error);
    }
    this.options.onDelivery?.('delivered');
    await inbox.setDeliveryStatus(envelope, 'delivered');
    return outcome;
  }

  /** Records a failed delivery and returns the error to throw: retriable while the budget lasts. */
  private async deliveryFailed(envelope: OrderEventEnvelope, error: unknown): Promise<AppError> {
    const { inbox, webhookRetry } = this.options;
    const appError =
      error instanceof AppError
        ? error
        : new AppError('webhook.unavailable', String(error), { retriable: true, cause: error });
    if (!appError.retriable) {
      this.options.onDelivery?.('rejected');
      await inbox.setDeliveryStatus(envelope, 'rejected', appError.message);
      return appError;
    }
    const { attempts, firstFailedAt } = await inbox.recordDeliveryFailure(envelope, appError.message);
    const elapsedMs = this.now().getTime() - firstFailedAt.getTime();
    const retryAfterMs = typeof appError.details?.retryAfterMs === 'number' ? appError.details.retryAfterMs : 0;
    // A Retry-After that reaches past the budget ends it now rather than pausing the partition that long.
    if (attempts < webhookRetry.maxAttempts && elapsedMs + retryAfterMs < webhookRetry.maxMs) {
      this.options.onDelivery?.('retriable');
      return appError;
    }
    this.options.onDelivery?.('exhausted');
    await inbox.setDeliveryStatus(envelope, 'exhausted', appError.message);
    return new AppError(
      'webhook.exhausted',
      `Webhook delivery given up after ${attempts} failed attempts over ${elapsedMs} ms: ${appError.message}`,
      { retriable: false, cause: appError, details: { attempts, elapsedMs } },
    );
  }
}
