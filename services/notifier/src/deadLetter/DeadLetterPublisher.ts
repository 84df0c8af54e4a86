import type { KafkaMessage, Producer } from 'kafkajs';
import { AppError, deadLetterTopicFor } from '@outbox/shared';
import { DEAD_LETTER_HEADERS, headerText } from './deadLetterHeaders';

/** Where a dead letter came from. */
export interface DeadLetterOrigin {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/** Why a message is dead-lettered. */
export interface DeadLetterReason {
  /** Short reason, e.g. `gap`, `invalid_json`, `webhook_rejected`. */
  reason: string;
  error: AppError;
  /** When the message first failed; kept from an earlier dead letter that was redriven. */
  firstFailedAt?: Date;
}

/** The short reason for an error code: `event.invalid_json` becomes `invalid_json`. */
export function reasonFor(error: AppError): string {
  const code = error.code.includes('.') ? error.code.slice(error.code.indexOf('.') + 1) : error.code;
  return error.code.startsWith('webhook.') ? `webhook_${code}` : code;
}

/**
 * Sends messages the notifier cannot process to `<topic>.dlq`: same key (the aggregate id, so a
 * redrive keeps aggregate order) and value, the original headers, plus the reason, the error, the
 * original topic, partition and offset, and the time of the first failure.
 */
export class DeadLetterPublisher {
  private readonly producer: Producer;

  constructor(producer: Producer) {
    this.producer = producer;
  }

  async send(origin: DeadLetterOrigin, why: DeadLetterReason): Promise<void> {
    const headers = { ...(origin.message.headers ?? {}) };
    const earlier = headerText(headers[DEAD_LETTER_HEADERS.firstFailedAt]);
    const firstFailedAt = earlier ?? (why.firstFailedAt ?? new Date()).toISOString();
    try {
      await this.producer.send({
        topic: deadLetterTopicFor(origin.topic),
        acks: -1,
        messages: [
          {
            key: origin.message.key,
            value: origin.message.value,
            headers: {
              ...headers,
              [DEAD_LETTER_HEADERS.reason]: why.reason,
              [DEAD_LETTER_HEADERS.errorCode]: why.error.code,
              [DEAD_LETTER_HEADERS.errorMessage]: why.error.message.slice(0, 1000),
              [DEAD_LETTER_HEADERS.originalTopic]: origin.topic,
              [DEAD_LETTER_HEADERS.originalPartition]: String(origin.partition),
              [DEAD_LETTER_HEADERS.originalOffset]: origin.message.offset,
              [DEAD_LETTER_HEADERS.firstFailedAt]: firstFailedAt,
              [DEAD_LETTER_HEADERS.deadLetteredAt]: new Date().toISOString(),
            },
          },
        ],
      });
    } catch (error) {
      // Kafka being unreachable is transient: the message is retried, never dropped.
      throw new AppError('dead_letter.unavailable', 'Could not publish the dead letter', {
        retriable: true,
        cause: error,
      });
    }
  }
}
