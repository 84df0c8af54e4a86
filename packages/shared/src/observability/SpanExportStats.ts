import {
  createNoopMeter,
  type Attributes,
  type Counter,
  type Meter,
  type MeterProvider,
  type ObservableCallback,
  type ObservableResult,
  type ObservableUpDownCounter,
  type UpDownCounter,
} from '@opentelemetry/api';

/** Where the spans the batch processor took in have gone, and what it holds now. */
export interface SpanExportCounts {
  /** Spans the exporter reported as delivered. */
  exported: number;
  /** Spans refused because the queue was full (never exported). */
  dropped: number;
  /** Spans in exports that failed (refused, unreachable or timed out collector), by error name. */
  failed: Record<string, number>;
  /** Spans waiting in the queue for the next export. */
  queued: number;
  /** The queue's size (`OTEL_BSP_MAX_QUEUE_SIZE`). */
  capacity: number;
}

// The SDK's self-observability instruments (semantic conventions, `otel.sdk.processor.span.*`).
const PROCESSED = 'otel.sdk.processor.span.processed';
const QUEUE_CAPACITY = 'otel.sdk.processor.span.queue.capacity';
const QUEUE_SIZE = 'otel.sdk.processor.span.queue.size';
const ERROR_TYPE = 'error.type';
const QUEUE_FULL = 'queue_full';

/**
 * Counts what the batch span processor does with spans, through the SDK's self-observability
 * hook (`selfObsMeterProvider`): a meter that keeps the three instruments the processor makes as
 * plain numbers, for the service's Prometheus registry to read at scrape time. Without it a full
 * queue or an unreachable collector loses spans with no trace of it anywhere.
 */
export class SpanExportStats implements MeterProvider {
  private exported = 0;
  private dropped = 0;
  private readonly failed = new Map<string, number>();
  private capacity = 0;
  private readonly queueCallbacks = new Set<ObservableCallback>();

  getMeter(): Meter {
    // Every other instrument stays a no-op: the processor makes only these three.
    const meter = Object.create(createNoopMeter()) as Meter;
    meter.createCounter = (name) =>
      name === PROCESSED ? this.processedCounter() : createNoopMeter().createCounter(name);
    meter.createUpDownCounter = (name) =>
      name === QUEUE_CAPACITY ? this.capacityCounter() : createNoopMeter().createUpDownCounter(name);
    meter.createObservableUpDownCounter = (name) =>
      name === QUEUE_SIZE ? this.queueSizeObserver() : createNoopMeter().createObservableUpDownCounter(name);
    return meter;
  }

  /** The counts now (the queue's length is asked of the processor). */
  counts(): SpanExportCounts {
    let queued = 0;
    const result: ObservableResult = {
      observe: (value) => {
        queued += value;
      },
    };
    for (const callback of this.queueCallbacks) void callback(result);
    return {
      exported: this.exported,
      dropped: this.dropped,
      failed: Object.fromEntries(this.failed),
      queued,
      capacity: this.capacity,
    };
  }

  private processedCounter(): Counter {
    return {
      add: (value: number, attributes?: Attributes) => {
        const errorType = attributes?.[ERROR_TYPE];
        if (errorType === undefined) this.exported += value;
        else if (errorType === QUEUE_FULL) this.dropped += value;
        else this.failed.set(String(errorType), (this.failed.get(String(errorType)) ?? 0) + value);
      },
    };
  }

  private capacityCounter(): UpDownCounter {
    return {
      add: (value: number) => {
        this.capacity += value;
      },
    };
  }

  private queueSizeObserver(): ObservableUpDownCounter {
    return {
      addCallback: (callback) => this.queueCallbacks.add(callback),
      removeCallback: (callback) => this.queueCallbacks.delete(callback),
    };
  }
}
