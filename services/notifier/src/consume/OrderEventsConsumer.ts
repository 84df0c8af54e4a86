import type { Consumer, EachMessagePayload } from 'kafkajs';
import { parseEnvelope, toAppError, type Logger } from '@outbox/shared';
import type { Inbox } from '../inbox/Inbox';
import { renderNotification } from '../notify/renderNotification';
import type { DeadLetterPublisher } from '../deadLetter/DeadLetterPublisher';
import type { NotifierMetrics } from './notifierMetrics';

/** Options for {@link OrderEventsConsumer}. */
export interface OrderEventsConsumerOptions {
  consumer: Consumer;
  topic: string;
  inbox: Inbox;
  deadLetters: DeadLetterPublisher;
  metrics: NotifierMetrics;
  logger: Logger;
}

/**
 * Consumes order events in a consumer group and turns each into one stored notification. An
 * offset is committed only after its message was processed or dead-lettered; a retriable failure
 * is thrown back to kafkajs, which re-delivers from the same offset.
 */
export class OrderEventsConsumer {
  private readonly options: OrderEventsConsumerOptions;

  constructor(options: OrderEventsConsumerOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    const { consumer, topic } = this.options;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ partitionsConsumedConcurrently: 3, eachMessage: (payload) => this.handle(payload) });
  }

  async stop(): Promise<void> {
    await this.options.consumer.disconnect();
  }

  private async handle({ topic, partition, message }: EachMessagePayload): Promise<void> {
    const { inbox, deadLetters, metrics, logger } = this.options;
    const endTimer = metrics.processingDuration.startTimer();
    let eventType = 'unknown';
    try {
      const event = parseEnvelope(message.value ?? Buffer.alloc(0));
      eventType = event.eventType;
      const outcome = await inbox.record(event, renderNotification(event));
      metrics.eventsProcessed.inc({ event_type: eventType, outcome });
    } catch (error) {
      const appError = toAppError(error);
      if (appError.retriable) throw appError;
      logger.warn({ topic, partition, offset: message.offset, code: appError.code }, 'dead-lettering a message');
      await deadLetters.send({ topic, partition, message }, appError);
      metrics.eventsProcessed.inc({ event_type: eventType, outcome: 'dead_lettered' });
    } finally {
      endTimer();
    }
  }
}
