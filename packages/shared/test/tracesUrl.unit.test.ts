import { tracesUrlFrom } from '@outbox/shared';

describe('where spans are sent, from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  test('When neither is set (or both are blank), then nothing is exported', () => {
    expect(tracesUrlFrom({})).toBeUndefined();
    expect(tracesUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' })).toBeUndefined();
  });

  test('When the base endpoint is set, then spans go to its /v1/traces, with or without a trailing slash', () => {
    expect(tracesUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318' })).toBe(
      'http://localhost:4318/v1/traces',
    );
    expect(tracesUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/otlp/' })).toBe(
      'http://collector:4318/otlp/v1/traces',
    );
  });

  test('When the traces endpoint is set, then it is used as it is, over the base endpoint', () => {
    expect(
      tracesUrlFrom({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/ingest',
      }),
    ).toBe('https://traces.example.com/ingest');
  });

  test('When either is not a URL, then it is refused with its name', () => {
    expect(() => tracesUrlFrom({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toThrow(
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not a URL: "not a url"',
    );
    expect(() => tracesUrlFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: '4318' })).toThrow(
      'OTEL_EXPORTER_OTLP_ENDPOINT is not a URL: "4318"',
    );
  });
});
