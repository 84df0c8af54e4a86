import type { KafkaMessage, Producer } from 'kafkajs';
import {
  AppError,
  buildDeadLetterHeaders,
  deadLetterReasonFor,
  deadLetterTopicFor,
  type DeadLetterReason,
} from '@outbox/shared';

/** The consumed record that failed. */
export interface FailedRecord {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/** Why a record is dead-lettered. */
export interface DeadLetterCause {
  error: AppError;
  /** Defaults to the reason of the error's code. */
  reason?: DeadLetterReason;
  /** When the record first failed (say, when it was first held); a first failure time in its headers wins. */
  firstFailedAt?: Date;
}

/**
 * Sends records the notifier cannot process to `<topic>.dlq` under the shared dead-letter
 * contract (`buildDeadLetterHeaders`, origin `notifier`): same key (the aggregate id, so a
 * redrive keeps aggregate order) and value, the original headers, plus the reason, the error,
 * the original topic, partition and offset, and the time of the first failure.
 */
export class DeadLetterPublisher {
  private readonly producer: Producer;

  constructor(producer: Producer) {
    this.producer = producer;
  }

  /** Resolves once Kafka acknowledged the letter; returns the reason written. */
  async send(record: FailedRecord, cause: DeadLetterCause): Promise<DeadLetterReason> {
    const reason = cause.reason ?? deadLetterReasonFor(cause.error.code);
    try {
      await this.producer.send({
        topic: deadLetterTopicFor(record.topic),
        acks: -1,
        messages: [
          {
            key: record.message.key,
            value: record.message.value,
            headers: buildDeadLetterHeaders({
              origin: 'notifier',
              reason,
              errorCode: cause.error.code,
              errorMessage: cause.error.message,
              errorClassName: cause.error.name,
              record: { topic: record.topic, partition: record.partition, offset: record.message.offset },
              originalHeaders: record.message.headers,
              firstFailedAt: cause.firstFailedAt,
            }),
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
    return reason;
  }
}
