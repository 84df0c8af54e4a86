import { SpanKind } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { SAMPLERS } from './samplerNames';

/**
 * The sampler of a service, from the OpenTelemetry variables `OTEL_TRACES_SAMPLER` and
 * `OTEL_TRACES_SAMPLER_ARG`:
 *
 * - `parentbased_always_on` (default): every new trace is kept.
 * - `parentbased_traceidratio`: a share of new traces is kept, `OTEL_TRACES_SAMPLER_ARG` from 0 to
 *   1 (default 1), decided by the trace id, so every service that starts the same trace agrees.
 * - `parentbased_always_off`: no new trace is kept.
 *
 * Only parent-based samplers: a span with a parent follows the parent's decision, so an order's
 * trace is kept or dropped whole, across the outbox (order-api decides; the relay and the
 * notifier follow the `traceparent` stored with the event). A client span without a parent is
 * background work (stream polling, lease renewals, consumer fetches) and never starts a trace.
 * Anything else stops the service at start with the reason, rather than being ignored.
 */
export function samplerFrom(env: Record<string, string | undefined>): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim() || 'parentbased_always_on';
  if (!(SAMPLERS as readonly string[]).includes(name)) {
    throw new Error(
      `OTEL_TRACES_SAMPLER ${JSON.stringify(name)} is not supported: use one of ${SAMPLERS.join(', ')} ` +
        "(a span follows its parent's decision, so an order's trace is kept or dropped whole)",
    );
  }
  const ratio = name === 'parentbased_traceidratio' ? ratioFrom(env.OTEL_TRACES_SAMPLER_ARG) : undefined;
  const share = name === 'parentbased_always_off' ? 0 : (ratio ?? 1);
  const byTraceId =
    share >= 1 ? new AlwaysOnSampler() : share <= 0 ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(share);
  return new ParentBasedSampler({ root: backgroundCallsOff(byTraceId, share) });
}

/** `OTEL_TRACES_SAMPLER_ARG` as a share from 0 to 1; unset or empty is 1. */
function ratioFrom(text: string | undefined): number {
  const trimmed = text?.trim() || '1';
  const value = Number(trimmed);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error(
      `OTEL_TRACES_SAMPLER_ARG is not a share of traces from 0 to 1: ${JSON.stringify(trimmed)} (e.g. 0.1 keeps one trace in ten)`,
    );
  }
  return value;
}

/**
 * Root sampler: a trace may start anywhere except at a client call. A client call with no parent
 * is background work (the relay polling its stream, lease renewals, the consumer's fetches), which
 * would otherwise start a trace of its own every few hundred milliseconds. Other roots are kept
 * by their trace id at `share`.
 */
function backgroundCallsOff(byTraceId: Sampler, share: number): Sampler {
  return {
    shouldSample: (context, traceId, spanName, kind, attributes, links) =>
      kind === SpanKind.CLIENT
        ? { decision: SamplingDecision.NOT_RECORD }
        : byTraceId.shouldSample(context, traceId, spanName, kind, attributes, links),
    toString: () => `BackgroundCallsOff{ratio=${share}}`,
  };
}
