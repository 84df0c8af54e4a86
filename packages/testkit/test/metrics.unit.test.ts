import { createMetricsRegistry } from '@outbox/shared';
import { Counter } from 'prom-client';
import { metricValue, parseMetrics, scrape } from '../src/metrics';

const TEXT = [
  '# HELP notifier_dead_letters_total Events dead-lettered',
  '# TYPE notifier_dead_letters_total counter',
  'notifier_dead_letters_total{reason="gap",service="notifier"} 11',
  'notifier_dead_letters_total{reason="gap_timeout",service="notifier"} 2',
  'notifier_dead_letters_total{reason="webhook_exhausted",service="notifier"} 1',
  'notifier_dead_letters_total_extra{reason="gap"} 100',
  'notifier_lag{partition="0",topic="a \\"quoted\\" name"} 3',
  'notifier_lag_seconds_bucket{le="+Inf"} 7',
  'plain 5',
].join('\n');

describe('the metrics reader (Prometheus text, exact matching)', () => {
  test('When a value is asked by name and labels, then only series with exactly that name and those label values count', () => {
    expect(metricValue(TEXT, 'notifier_dead_letters_total', { reason: 'gap' })).toBe(11);
    expect(metricValue(TEXT, 'notifier_dead_letters_total', { reason: 'webhook_exhausted' })).toBe(1);
    expect(metricValue(TEXT, 'notifier_dead_letters_total')).toBe(14);
    expect(metricValue(TEXT, 'notifier_dead_letters', { reason: 'gap' })).toBeUndefined();
    expect(metricValue(TEXT, 'notifier_dead_letters_total', { reason: 'ga' })).toBeUndefined();
    expect(metricValue(TEXT, 'plain')).toBe(5);
  });

  test('When label values hold quotes or the value is +Inf, then they are read as Prometheus writes them', () => {
    const samples = parseMetrics(TEXT);
    expect(samples.find((sample) => sample.name === 'notifier_lag')?.labels).toEqual({
      partition: '0',
      topic: 'a "quoted" name',
    });
    expect(metricValue(TEXT, 'notifier_lag', { topic: 'a "quoted" name' })).toBe(3);
    expect(samples.find((sample) => sample.name === 'notifier_lag_seconds_bucket')?.labels.le).toBe('+Inf');
    expect(() => parseMetrics('not a sample line at all')).toThrow('Not a Prometheus sample line');
  });

  test('When the source is a prom-client registry, then it reads the same text /metrics serves', async () => {
    const registry = createMetricsRegistry({ service: 'kit', defaultMetrics: false });
    const counter = new Counter({
      name: 'kit_things_total',
      help: 'things',
      labelNames: ['kind'],
      registers: [registry],
    });
    counter.inc({ kind: 'a' }, 10);
    counter.inc({ kind: 'b' });
    expect(await scrape(registry, 'kit_things_total', { kind: 'b' })).toBe(1);
    expect(await scrape(registry, 'kit_things_total', { kind: 'a', service: 'kit' })).toBe(10);
  });
});
