import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrometheusServer, prometheusConfig, repoPrometheusTargets } from '@outbox/local-stack';
import { freePort } from './serviceProcess';

/** A Prometheus server (Debian's `prometheus` package) a test started, with its HTTP API. */
export interface TestPrometheus {
  url: string;
  /** GET `/api/v1/<path>` and the `data` of a successful answer; throws with Prometheus's error otherwise. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  stop(): Promise<void>;
}

/** The name the tests import. */
export type { TestPrometheus as PrometheusServer };

/**
 * Starts `prometheus` on a free port with temporary storage and the repo's `ops/prometheus.yml`,
 * its targets rewritten to `targets` (job name → `host:port`), its intervals to `intervalSeconds`
 * and its rule files to absolute paths. Resolves once Prometheus says it is ready.
 */
export async function startPrometheus(options: {
  targets: Record<string, string>;
  intervalSeconds: number;
  /** Scrape only the jobs named in `targets`, leaving out the config's others. */
  onlyTheseTargets?: boolean;
  /** Absolute paths of rule files to load instead of the config's (a test-only variant). */
  ruleFiles?: string[];
}): Promise<TestPrometheus> {
  if (!options.onlyTheseTargets) {
    for (const job of Object.keys(repoPrometheusTargets())) {
      if (!options.targets[job]) throw new Error(`no test target for the job ${job} of ops/prometheus.yml`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig(options));
  const server = new PrometheusServer({
    port: await freePort(),
    configFile,
    storageDir: join(dir, 'data'),
    logDir: dir,
  });
  const stop = async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await server.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const { url } = server;
  return {
    url,
    stop,
    api: async <T>(path: string, params: Record<string, string> = {}) => {
      const response = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params).toString()}`);
      const body = (await response.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
      return body.data;
    },
  };
}
