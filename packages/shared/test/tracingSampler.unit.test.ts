import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision, type Sampler } from '@opentelemetry/sdk-trace';
import { samplerFrom } from '@outbox/shared';

const traceId = () => randomBytes(16).toString('hex');
const spanId = () => randomBytes(8).toString('hex');

/** Whether `sampler` keeps a new trace (no parent) of `kind`. */
const keepsRoot = (sampler: Sampler, kind = SpanKind.SERVER) =>
  sampler.shouldSample(ROOT_CONTEXT, traceId(), 'span', kind, {}, []).decision === SamplingDecision.RECORD_AND_SAMPLED;

/** Whether `sampler` keeps a span whose remote parent was `sampled` or not. */
const keepsChildOf = (sampler: Sampler, sampled: boolean) => {
  const parent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: traceId(),
    spanId: spanId(),
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
  return (
    sampler.shouldSample(parent, traceId(), 'span', SpanKind.PRODUCER, {}, []).decision ===
    SamplingDecision.RECORD_AND_SAMPLED
  );
};

const share = (sampler: Sampler, n: number) =>
  Array.from({ length: n }, () => keepsRoot(sampler)).filter(Boolean).length / n;

describe('the sampler from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG', () => {
  test('When nothing is set, then every new trace is kept but a client call without parent (background work) starts none', () => {
    const sampler = samplerFrom({});
    expect(share(sampler, 200)).toBe(1);
    expect(keepsRoot(sampler, SpanKind.CLIENT)).toBe(false);
  });

  test('When parentbased_traceidratio is 0.25, then about a quarter of 4000 new traces is kept, and a span with a parent follows its parent either way', () => {
    const sampler = samplerFrom({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' });
    const kept = share(sampler, 4000);
    expect(kept).toBeGreaterThan(0.2);
    expect(kept).toBeLessThan(0.3);
    expect(keepsRoot(sampler, SpanKind.CLIENT)).toBe(false);
    for (let i = 0; i < 50; i++) {
      expect(keepsChildOf(sampler, true)).toBe(true);
      expect(keepsChildOf(sampler, false)).toBe(false);
    }
  });

  test('When parentbased_always_off, or a ratio of 0, then no new trace is kept, but a sampled parent is still followed', () => {
    for (const env of [
      { OTEL_TRACES_SAMPLER: 'parentbased_always_off' },
      { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
    ]) {
      const sampler = samplerFrom(env);
      expect(share(sampler, 200)).toBe(0);
      expect(keepsChildOf(sampler, true)).toBe(true);
    }
  });

  test('When parentbased_traceidratio has no argument, then every new trace is kept (the OpenTelemetry default of 1)', () => {
    expect(
      share(samplerFrom({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: ' ' }), 200),
    ).toBe(1);
  });

  test('When the sampler is not parent-based or unknown, or the ratio is not a share from 0 to 1, then it is refused with the reason', () => {
    expect(() => samplerFrom({ OTEL_TRACES_SAMPLER: 'traceidratio' })).toThrow(
      'OTEL_TRACES_SAMPLER "traceidratio" is not supported: use one of parentbased_always_on, parentbased_traceidratio, parentbased_always_off',
    );
    expect(() => samplerFrom({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toThrow('is not supported');
    for (const arg of ['1.5', '-0.1', 'ten percent', 'NaN']) {
      expect(() =>
        samplerFrom({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: arg }),
      ).toThrow(`OTEL_TRACES_SAMPLER_ARG is not a share of traces from 0 to 1: ${JSON.stringify(arg)}`);
    }
  });
});
