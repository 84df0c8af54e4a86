import type { Kafka, Message, Producer } from 'kafkajs';
import {
  AppError,
  EVENT_HEADERS,
  buildDeadLetterHeaders,
  deadLetterTopicFor,
  relayDeadLetterValue,
  type OrderEventEnvelope,
  type TraceHeaders,
} from '@outbox/shared';
import { endProducerSpans, startProducerSpan } from './producerSpans';

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
  /**
   * When set, every batch (events and dead letters) is one Kafka transaction under this stable
   * id: a new leader's producer bumps the epoch, so a deposed leader's producer is fenced by Kafka.
   */
  transactionalId?: string;
}

/**
 * Publishes outbox events to Kafka keyed by aggregate id, with an idempotent producer, acks from
 * all in-sync replicas and one request in flight, so a retry can neither duplicate nor reorder.
 * A batch resolves only when Kafka acknowledged all of it; any failure is a retriable
 * `publish.failed` and the caller re-reads from its checkpoint.
 */
export class KafkaPublisher {
  private readonly options: KafkaPublisherOptions;
  private producer: Producer;
  private connected = false;

  constructor(options: KafkaPublisherOptions) {
    this.options = options;
    this.producer = this.createProducer();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** True when batches are Kafka transactions. */
  get transactional(): boolean {
    return this.options.transactionalId !== undefined;
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    await this.producer.connect();
    this.connected = true;
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
    this.connected = false;
  }

  /** Sends the events in order, then the dead letters; resolves when Kafka acknowledged all. */
  async publishBatch(events: OutgoingEvent[], letters: DeadLetter[]): Promise<void> {
    if (events.length === 0 && letters.length === 0) return;
    const traced = events.map((event) => ({ event, ...startProducerSpan(this.options.topic, event.envelope) }));
    const topicMessages = [];
    if (events.length > 0) {
      topicMessages.push({ topic: this.options.topic, messages: traced.map((t) => toMessage(t.event, t.headers)) });
    }
    if (letters.length > 0) {
      topicMessages.push({
        topic: deadLetterTopicFor(this.options.topic),
        messages: letters.map((l) => this.toDeadLetter(l)),
      });
    }
    const spans = traced.map((t) => t.span);
    try {
      await this.send(topicMessages);
    } catch (error) {
      endProducerSpans(spans, error);
      throw error;
    }
    endProducerSpans(spans);
  }

  private async send(topicMessages: { topic: string; messages: Message[] }[]): Promise<void> {
    try {
      await this.connect();
      if (!this.transactional) {
        await this.producer.sendBatch({ acks: -1, topicMessages });
        return;
      }
      const transaction = await this.producer.transaction();
      try {
        await transaction.sendBatch({ acks: -1, topicMessages });
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    } catch (error) {
      // A transactional producer may be left mid-transaction: start over with a fresh one (its
      // init aborts what the old one left open). The idempotent producer reconnects by itself.
      if (this.transactional) await this.reset();
      throw new AppError('publish.failed', `Kafka did not acknowledge the batch: ${(error as Error).message}`, {
        retriable: true,
        cause: error,
      });
    }
  }

  /** Sends the events in order; resolves only when Kafka acknowledged all of them. */
  publish(events: OutgoingEvent[]): Promise<void> {
    return this.publishBatch(events, []);
  }

  /** Sends records that cannot become events to `<topic>.dlq`, with the reason in headers. */
  deadLetter(letters: DeadLetter[]): Promise<void> {
    return this.publishBatch([], letters);
  }

  private createProducer(): Producer {
    const producer = this.options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionalId: this.options.transactionalId,
    });
    producer.on('producer.disconnect', () => {
      if (this.producer === producer) this.connected = false;
    });
    return producer;
  }

  private async reset(): Promise<void> {
    const old = this.producer;
    this.producer = this.createProducer();
    this.connected = false;
    await old.disconnect().catch(() => undefined);
  }

  /** A dead letter under the shared contract: origin `relay`, the raw item as JSON, the source shard and sequence number. */
  private toDeadLetter(letter: DeadLetter): Message {
    return {
      key: letter.key ?? null,
      value: relayDeadLetterValue(letter.item),
      headers: buildDeadLetterHeaders({
        origin: 'relay',
        errorCode: letter.errorCode,
        errorMessage: letter.errorMessage,
        source: { shardId: letter.shardId, sequenceNumber: letter.sequenceNumber },
      }),
    };
  }
}

function toMessage(event: OutgoingEvent, trace: TraceHeaders): Message {
  const { envelope } = event;
  const headers: Record<string, string> = {
    [EVENT_HEADERS.eventId]: envelope.eventId,
    [EVENT_HEADERS.eventType]: envelope.eventType,
    [EVENT_HEADERS.seq]: String(envelope.seq),
    [EVENT_HEADERS.schemaVersion]: String(envelope.schemaVersion),
    [EVENT_HEADERS.sourceShard]: event.shardId,
    [EVENT_HEADERS.sourceSequenceNumber]: event.sequenceNumber,
  };
  // The relay's producer span (see producerSpans.ts), which the notifier continues.
  if (trace.traceparent) headers[EVENT_HEADERS.traceparent] = trace.traceparent;
  if (trace.tracestate) headers[EVENT_HEADERS.tracestate] = trace.tracestate;
  return { key: envelope.aggregateId, value: JSON.stringify(envelope), headers };
}
