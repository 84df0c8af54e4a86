import { runPromtool } from '../support/promtool';
import { scrapeMetrics, startRunningPipeline, type RunningPipeline } from '../support/runningPipeline';

/** Names of the metric families a Prometheus text exposition declares (`# TYPE <name> <type>`). */
function familiesIn(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((match) => match[1]);
}

/** prom-client's process and Node runtime metrics, named by Prometheus's client conventions. */
const RUNTIME_DEFAULTS = /^(process_|nodejs_)/;

describe("every service's /metrics, each service its own process", () => {
  let pipeline: RunningPipeline;
  beforeAll(async () => {
    pipeline = await startRunningPipeline();
  }, 90000);
  afterAll(async () => {
    await pipeline?.stop();
  });

  test('When each /metrics is piped to promtool check metrics, then it reports no finding', async () => {
    for (const { name, service } of pipeline.byPrefix) {
      const text = await scrapeMetrics(service);
      const result = await runPromtool(['check', 'metrics'], text);
      expect({ name, code: result.code, findings: `${result.stdout}${result.stderr}`.trim() }).toEqual({
        name,
        code: 0,
        findings: '',
      });
    }
  });

  test("When each /metrics is read, then every metric of the service's own carries its one prefix (order_api_, relay_, notifier_)", async () => {
    for (const { name, prefix, service } of pipeline.byPrefix) {
      const own = familiesIn(await scrapeMetrics(service)).filter((family) => !RUNTIME_DEFAULTS.test(family));
      expect(own.length).toBeGreaterThan(5);
      expect({ name, unprefixed: own.filter((family) => !family.startsWith(prefix)) }).toEqual({
        name,
        unprefixed: [],
      });
    }
  });
});
