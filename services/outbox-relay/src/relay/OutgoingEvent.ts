import type { OrderEventEnvelope } from '@outbox/shared';

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
