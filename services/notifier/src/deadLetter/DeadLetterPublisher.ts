import type { KafkaMessage, Producer } from 'kafkajs';
import { deadLetterTopicFor, type AppError } from '@outbox/shared';

/** Where a dead letter came from. */
export interface DeadLetterOrigin {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/** Sends messages the notifier cannot process to `<topic>.dlq`, with the error and origin. */
export class DeadLetterPublisher {
  private readonly producer: Producer;

  constructor(producer: Producer) {
    this.producer = producer;
  }

  async send(origin: DeadLetterOrigin, error: AppError, firstFailedAt: Date = new Date()): Promise<void> {
    const headers = { ...(origin.message.headers ?? {}) };
    await this.producer.send({
      topic: deadLetterTopicFor(origin.topic),
      acks: -1,
      messages: [
        {
          key: origin.message.key,
          value: origin.message.value,
          headers: {
            ...headers,
            'error-code': error.code,
            'error-message': error.message.slice(0, 1000),
            'original-topic': origin.topic,
            'original-partition': String(origin.partition),
            'original-offset': origin.message.offset,
            'first-failed-at': firstFailedAt.toISOString(),
          },
        },
      ],
    });
  }
}
