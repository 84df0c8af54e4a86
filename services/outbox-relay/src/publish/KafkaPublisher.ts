import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Kafka, Message, Producer } from 'kafkajs';
import {
  AppError,
  EVENT_HEADERS,
  buildDeadLetterHeaders,
  deadLetterTopicFor,
  relayDeadLetterValue,
  type TraceHeaders,
} from '@outbox/shared';
import type { DeadLetter, OutgoingEvent } from '../relay/OutgoingEvent';
import type { BatchPublisher } from '../relay/RecordPublisher';
import { endProducerSpans, startProducerSpan } from './producerSpans';

/** Options for {@link KafkaPublisher}. */
export interface KafkaPublisherOptions {
  kafka: Kafka;
  topic: string;
  /**
   * When set, every batch (events and dead letters) is one Kafka transaction under this stable
   * id: a new leader's producer bumps the epoch, so a deposed leader's producer is fenced by Kafka.
   */
  transactionalId?: string;
  /**
   * Most bytes one produce request may carry (an estimate that errs high); batches are split to
   * stay under it. Below the broker's `message.max.bytes` and the topic's `max.message.bytes`.
   */
  maxRequestBytes: number;
  /** How long the broker may take to acknowledge one request (kafkajs' `timeout`; default 30000). */
  ackTimeoutMs?: number;
  /**
   * Without a transactional id: how many idempotent producers share each batch (1 to
   * {@link MAX_PUBLISH_LANES}; default 1). Every key always goes through the same one, in batch
   * order, so per-aggregate order holds; the producers' requests are in flight at once.
   */
  lanes?: number;
  /**
   * How many of the lanes the next batch is spread over (1 to `lanes`; default all). A batch is
   * acknowledged whole before the next one starts, so the count may change between batches
   * without reordering a key. Fewer, larger requests cost less CPU per record; extra lanes only
   * pay when few batches are in flight at once (one shard led), which the caller knows.
   */
  activeLanes?: () => number;
}

/**
 * Most producers a batch is spread over. kafkajs' idempotent producer holds a lock per broker
 * for the whole round trip of a produce request, so one producer never has two requests in
 * flight to a broker, whatever `maxInFlightRequests` says; overlapping requests take several
 * producers. Five matches the most in-flight requests Kafka keeps in order for one producer.
 */
export const MAX_PUBLISH_LANES = 5;

/** Room kept in every request for its own header, the topic names and the record-batch headers. */
export const REQUEST_OVERHEAD_BYTES = 4096;
/** Bytes a record adds besides its key, value and headers (length, attributes, deltas). */
const RECORD_OVERHEAD_BYTES = 64;
/** Bytes a header adds besides its key and value. */
const HEADER_OVERHEAD_BYTES = 16;

/**
 * Publishes outbox events to Kafka keyed by aggregate id, with idempotent producers, acks from
 * all in-sync replicas and one request in flight per producer and broker, so a retry can neither
 * duplicate nor reorder. Without a transactional id a batch is spread by key over
 * {@link KafkaPublisherOptions.lanes} producers sending at once (each key through one producer,
 * in order). A batch resolves only when Kafka acknowledged all of it; any failure is a retriable
 * `publish.failed` (after every lane finished) and the caller re-reads from its checkpoint.
 */
export class KafkaPublisher implements BatchPublisher {
  private readonly options: KafkaPublisherOptions;
  /** One producer per lane; a transactional publisher has one. */
  private readonly producers: Producer[];
  private connected = false;
  /** Each envelope's JSON, made once (an envelope is sized before it is sent, and may be resent). */
  private readonly values = new WeakMap<OutgoingEvent['envelope'], string>();

  constructor(options: KafkaPublisherOptions) {
    this.options = options;
    const lanes = options.transactionalId === undefined ? (options.lanes ?? 1) : 1;
    if (!Number.isInteger(lanes) || lanes < 1 || lanes > MAX_PUBLISH_LANES) {
      throw new AppError(
        'publish.invalid_lanes',
        `lanes must be an integer from 1 to ${MAX_PUBLISH_LANES}, not ${lanes}`,
        {
          retriable: false,
        },
      );
    }
    this.producers = Array.from({ length: lanes }, () => this.createProducer());
  }

  /** How many producers share a batch. */
  get lanes(): number {
    return this.producers.length;
  }

  /** The producer of transactions (and of lane 0). */
  private get producer(): Producer {
    return this.producers[0];
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
    await Promise.all(this.producers.map((producer) => producer.connect()));
    this.connected = true;
  }

  async disconnect(): Promise<void> {
    await Promise.all(this.producers.map((producer) => producer.disconnect()));
    this.connected = false;
  }

  /** The most bytes one record may take: a larger one can never be sent. */
  get maxRecordBytes(): number {
    return this.options.maxRequestBytes - REQUEST_OVERHEAD_BYTES;
  }

  /** The bytes `event` takes in a produce request (an estimate that errs high). */
  recordBytes(event: OutgoingEvent): number {
    // The producer span's headers: a traceparent of fixed length, the stored tracestate.
    return messageBytes(
      this.toMessage(event, { traceparent: TRACEPARENT_SIZED, tracestate: event.envelope.tracestate }),
    );
  }

  /**
   * The Kafka record of an event; `trace` is the producer span's context (see producerSpans.ts).
   * The envelope's JSON is made once per event: sizing it (`recordBytes`) and sending it reuse it.
   */
  private toMessage(event: OutgoingEvent, trace: TraceHeaders): Message {
    const { envelope } = event;
    let value = this.values.get(envelope);
    if (value === undefined) {
      value = JSON.stringify(envelope);
      this.values.set(envelope, value);
    }
    const headers: Record<string, string> = {
      [EVENT_HEADERS.eventId]: envelope.eventId,
      [EVENT_HEADERS.eventType]: envelope.eventType,
      [EVENT_HEADERS.seq]: String(envelope.seq),
      [EVENT_HEADERS.schemaVersion]: String(envelope.schemaVersion),
      [EVENT_HEADERS.sourceShard]: event.shardId,
      [EVENT_HEADERS.sourceSequenceNumber]: event.sequenceNumber,
    };
    if (trace.traceparent) headers[EVENT_HEADERS.traceparent] = trace.traceparent;
    if (trace.tracestate) headers[EVENT_HEADERS.tracestate] = trace.tracestate;
    return { key: envelope.aggregateId, value, headers };
  }

  /**
   * Sends the events in order, then the dead letters, in as many requests as the byte budget
   * needs; resolves when Kafka acknowledged all. Each lane sends its keys' records in order, one
   * request after the other, while the lanes send at once. In transactional mode all of it is
   * one transaction, sent in order. An event over {@link maxRecordBytes} must not be passed
   * (dead-letter it instead): it would be refused every time.
   */
  async publishBatch(events: OutgoingEvent[], letters: DeadLetter[]): Promise<void> {
    if (events.length === 0 && letters.length === 0) return;
    // One producer span per record, in the order's trace; each ends when Kafka acknowledged it.
    const traced = events.map((event) => startProducerSpan(this.options.topic, event.envelope));
    const spans = traced.map((t) => t.span);
    const messages: Outgoing[] = [];
    for (let i = 0; i < events.length; i++) {
      const message = this.toMessage(events[i], traced[i].headers);
      messages.push({ topic: this.options.topic, message, bytes: messageBytes(message) });
    }
    for (const letter of letters) {
      const message = this.toDeadLetter(letter);
      messages.push({ topic: deadLetterTopicFor(this.options.topic), message, bytes: messageBytes(message) });
    }
    const timeout = this.options.ackTimeoutMs;
    try {
      // Making the records and encoding them are each long runs of CPU: timers run in between.
      await yieldToLoop();
      await this.connect();
      if (!this.transactional) {
        await this.sendInLanes(messages);
        await yieldToLoop();
        endProducerSpans(spans);
        return;
      }
      const requests = splitByBytes(messages, this.maxRecordBytes);
      const transaction = await this.producer.transaction();
      try {
        for (const topicMessages of requests) await transaction.sendBatch({ acks: -1, timeout, topicMessages });
        await transaction.commit();
        endProducerSpans(spans);
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    } catch (thrown) {
      const failures = thrown instanceof LanesFailed ? thrown.failures : [{ lane: 0, error: thrown }];
      const error = failures[0].error;
      endProducerSpans(spans, error);
      // A fatal error (a sequence error, a fenced epoch, retries exhausted) leaves the producer
      // unusable for good, and a transactional one may be left mid-transaction: start over with
      // a fresh producer (new producer id; a transactional init aborts what the old one left
      // open). The caller re-reads from its checkpoint: duplicates, never loss or reorder.
      const isFatal = (failed: unknown) =>
        this.transactional || (failed as { retriable?: boolean } | null)?.retriable !== true;
      const fatal = failures.some((failure) => isFatal(failure.error));
      for (const failure of failures) if (isFatal(failure.error)) await this.reset(failure.lane);
      throw new AppError('publish.failed', `Kafka did not acknowledge the batch: ${(error as Error).message}`, {
        retriable: true,
        cause: error,
        details: { producerReset: fatal },
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

  /**
   * Spreads the messages over the active lanes by key (within a batch a key always takes the same
   * lane, in order; the batch is acknowledged whole before the next one starts), sends
   * each lane's requests one after the other and the lanes at once, and waits for every lane
   * before it resolves or throws (a lane still sending must not overlap the caller's retry).
   */
  private async sendInLanes(messages: Outgoing[]): Promise<void> {
    const wanted = Math.floor(this.options.activeLanes?.() ?? this.producers.length);
    const lanes = Number.isFinite(wanted)
      ? Math.min(this.producers.length, Math.max(1, wanted))
      : this.producers.length;
    const byLane: Outgoing[][] = Array.from({ length: lanes }, () => []);
    for (const entry of messages) byLane[laneOf(entry.message.key, lanes)].push(entry);
    const timeout = this.options.ackTimeoutMs;
    const outcomes = await Promise.allSettled(
      byLane.map(async (laneMessages, lane) => {
        const producer = this.producers[lane];
        for (const topicMessages of splitByBytes(laneMessages, this.maxRecordBytes)) {
          await producer.sendBatch({ acks: -1, timeout, topicMessages });
        }
      }),
    );
    const failures = outcomes.flatMap((outcome, lane) =>
      outcome.status === 'rejected' ? [{ lane, error: outcome.reason as unknown }] : [],
    );
    if (failures.length > 0) throw new LanesFailed(failures);
  }

  private createProducer(): Producer {
    const producer = this.options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionalId: this.options.transactionalId,
    });
    producer.on('producer.disconnect', () => {
      // Only a producer still in use (not one replaced by a reset) marks the publisher disconnected.
      if (this.producers.includes(producer)) this.connected = false;
    });
    return producer;
  }

  /** Replaces the producer of `lane` with a fresh one (new producer id or epoch). */
  private async reset(lane: number): Promise<void> {
    const old = this.producers[lane];
    this.producers[lane] = this.createProducer();
    this.connected = false;
    await old.disconnect().catch(() => undefined);
  }

  /** A dead letter under the shared contract: origin `relay`, the raw item as JSON, the source shard and sequence number. */
  private toDeadLetter(letter: DeadLetter): Message {
    const message: Message = {
      key: letter.key ?? null,
      value: relayDeadLetterValue(letter.item),
      headers: buildDeadLetterHeaders({
        origin: 'relay',
        errorCode: letter.errorCode,
        errorMessage: letter.errorMessage,
        source: { shardId: letter.shardId, sequenceNumber: letter.sequenceNumber },
      }),
    };
    // A dead letter must fit too: an item too large to send keeps only its coordinates (the
    // outbox table still holds it until its TTL).
    const bytes = messageBytes(message);
    if (bytes > this.maxRecordBytes) message.value = JSON.stringify({ omitted: 'too_large', bytes });
    return message;
  }
}

/** A message on its way, with its topic and its size in a request (see {@link messageBytes}). */
interface Outgoing {
  topic: string;
  message: Message;
  bytes: number;
}

/** Lanes whose send failed, each with its producer's error (the first one is the cause). */
class LanesFailed extends Error {
  readonly failures: { lane: number; error: unknown }[];
  constructor(failures: { lane: number; error: unknown }[]) {
    const first = failures[0].error;
    super(first instanceof Error ? first.message : String(first), { cause: first });
    this.name = 'LanesFailed';
    this.failures = failures;
  }
}

/** The lane of a key: FNV-1a over its bytes, so a key always takes the same lane. Null keys take lane 0. */
function laneOf(key: Message['key'], lanes: number): number {
  if (lanes === 1 || key === null || key === undefined) return 0;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % lanes;
}

/** The bytes a message takes in a produce request: key, value, headers and record overhead. */
function messageBytes(message: Message): number {
  const length = (value: unknown) =>
    value === null || value === undefined ? 0 : Buffer.byteLength(value as string | Buffer);
  let bytes = RECORD_OVERHEAD_BYTES + length(message.key) + length(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    bytes += HEADER_OVERHEAD_BYTES + Buffer.byteLength(name) + length(value);
  }
  return bytes;
}

/**
 * Splits messages, in order, into requests of at most `maxBytes` of records each, grouping
 * consecutive messages of one topic. A message alone over `maxBytes` still gets its own request.
 */
function splitByBytes(messages: Outgoing[], maxBytes: number): { topic: string; messages: Message[] }[][] {
  const requests: { topic: string; messages: Message[] }[][] = [];
  let current: { topic: string; messages: Message[] }[] = [];
  let currentBytes = 0;
  for (const { topic, message, bytes } of messages) {
    if (current.length > 0 && currentBytes + bytes > maxBytes) {
      requests.push(current);
      current = [];
      currentBytes = 0;
    }
    const last = current.at(-1);
    if (last?.topic === topic) last.messages.push(message);
    else current.push({ topic, messages: [message] });
    currentBytes += bytes;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/** As long as any version-00 `traceparent`, for size estimates. */
const TRACEPARENT_SIZED = `00-${'0'.repeat(32)}-${'0'.repeat(16)}-00`;
