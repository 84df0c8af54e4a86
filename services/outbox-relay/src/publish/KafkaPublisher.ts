import type { Kafka, Message, Producer } from 'kafkajs';
import { EVENT_HEADERS, deadLetterTopicFor, type OrderEventEnvelope } from '@outbox/shared';

/** An event ready to publish, with where it came from. */
export interface OutgoingEvent {
  envelope: OrderEventEnvelope;
  shardId: string;
  sequenceNumber: string;
}

/** A record that could not become an event, bound for the dead-letter topic. */
export interface DeadLetter {
  shardId: string;
  sequenceNumber: string;
  /** Stable error code, e.g. `event.invalid_envelope`. */
  errorCode: string;
  errorMessage: string;
  /** The raw item as read from the stream. */
  item: unknown;
  /** Aggregate id when the item had one, used as the key to keep the DLQ in aggregate order. */
  key?: string;
}

/** Options for {@link KafkaPublisher}. */
export interface KafkaPublisherOptions {
  kafka: Kafka;
  topic: string;
}

/**
 * Publishes outbox events to Kafka keyed by aggregate id, with an idempotent producer, acks from
 * all in-sync replicas and one request in flight, so a retry can neither duplicate nor reorder.
 */
export class KafkaPublisher {
  private readonly producer: Producer;
  private readonly topic: string;
  private connected = false;

  constructor(options: KafkaPublisherOptions) {
    this.topic = options.topic;
    this.producer = options.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    this.producer.on('producer.disconnect', () => {
      this.connected = false;
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
    this.connected = false;
  }

  /** Sends the events in order; resolves only when Kafka acknowledged all of them. */
  async publish(events: OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.producer.send({ topic: this.topic, acks: -1, messages: events.map(toMessage) });
  }

  /** Sends records that cannot become events to `<topic>.dlq`, with the reason in headers. */
  async deadLetter(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({
      topic: deadLetterTopicFor(this.topic),
      acks: -1,
      messages: letters.map((letter) => ({
        key: letter.key ?? null,
        value: JSON.stringify(letter.item),
        headers: {
          'error-code': letter.errorCode,
          'error-message': letter.errorMessage,
          'original-topic': this.topic,
          [EVENT_HEADERS.sourceShard]: letter.shardId,
          [EVENT_HEADERS.sourceSequenceNumber]: letter.sequenceNumber,
          'failed-at': new Date().toISOString(),
        },
      })),
    });
  }
}

function toMessage(event: OutgoingEvent): Message {
  const { envelope } = event;
  const headers: Record<string, string> = {
    [EVENT_HEADERS.eventId]: envelope.eventId,
    [EVENT_HEADERS.eventType]: envelope.eventType,
    [EVENT_HEADERS.seq]: String(envelope.seq),
    [EVENT_HEADERS.schemaVersion]: String(envelope.schemaVersion),
    [EVENT_HEADERS.sourceShard]: event.shardId,
    [EVENT_HEADERS.sourceSequenceNumber]: event.sequenceNumber,
  };
  if (envelope.traceparent) headers[EVENT_HEADERS.traceparent] = envelope.traceparent;
  return { key: envelope.aggregateId, value: JSON.stringify(envelope), headers };
}
