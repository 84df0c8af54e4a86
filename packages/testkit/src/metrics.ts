/** One sample of the Prometheus text format: `name{label="value",…} value`. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Where metrics come from: a process or port serving `/metrics`, or a prom-client registry. */
export type MetricsSource = number | { opsPort: number } | { metrics(): Promise<string> };

/**
 * The Prometheus text of `source`: GET `http://127.0.0.1:<port>/metrics` for a port or a service
 * process (its ops port), or `registry.metrics()` (the same text) for an in-process registry.
 */
export async function scrapeMetrics(source: MetricsSource): Promise<string> {
  if (typeof source === 'object' && 'metrics' in source) return source.metrics();
  const port = typeof source === 'number' ? source : source.opsPort;
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics on port ${port} answered ${response.status}`);
  return response.text();
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;

function sampleValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, char: string) => (char === 'n' ? '\n' : char));
}

/** Every sample in Prometheus text (comments and blank lines skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line.trim());
    if (!match) throw new Error(`Not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key] = unescapeLabel(value);
    samples.push({ name: match[1], labels, value: sampleValue(match[3]) });
  }
  return samples;
}

/**
 * The value of metric `name` in Prometheus text: the sum over its series whose labels include
 * every one of `labels` with exactly that value (other labels may vary), or `undefined` when no
 * series matches. The name matches exactly: a histogram's `x_count` is asked for as `x_count`.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const sample of parseMetrics(text)) {
    if (sample.name !== name) continue;
    if (!Object.entries(labels).every(([key, want]) => sample.labels[key] === want)) continue;
    total = (total ?? 0) + sample.value;
  }
  return total;
}

/** Scrapes `source` and returns {@link metricValue} of `name` and `labels` in it. */
export async function scrape(
  source: MetricsSource,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  return metricValue(await scrapeMetrics(source), name, labels);
}
