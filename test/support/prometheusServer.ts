import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { waitFor } from '@outbox/shared';
import { freePort } from './serviceProcess';

const repoRoot = join(__dirname, '..', '..');

/** A Prometheus server (Debian's `prometheus` package) a test started, with its HTTP API. */
export interface PrometheusServer {
  url: string;
  output: string[];
  /** GET `/api/v1/<path>` and the `data` of a successful answer; throws with Prometheus's error otherwise. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  stop(): Promise<void>;
}

interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[] }[];
}

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
}): Promise<PrometheusServer> {
  const repoConfigFile = join(repoRoot, 'ops', 'prometheus.yml');
  const config = parse(readFileSync(repoConfigFile, 'utf8')) as {
    global: Record<string, string>;
    rule_files?: string[];
    scrape_configs: ScrapeConfig[];
  };
  if (options.onlyTheseTargets) {
    config.scrape_configs = config.scrape_configs.filter((scrape) => options.targets[scrape.job_name] !== undefined);
  }
  for (const scrape of config.scrape_configs) {
    const target = options.targets[scrape.job_name];
    if (!target) throw new Error(`no test target for the job ${scrape.job_name} of ops/prometheus.yml`);
    scrape.static_configs = [{ targets: [target] }];
  }
  config.global.scrape_interval = `${options.intervalSeconds}s`;
  config.global.evaluation_interval = `${options.intervalSeconds}s`;
  config.rule_files =
    options.ruleFiles ?? (config.rule_files ?? []).map((file) => resolve(dirname(repoConfigFile), file));

  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', () => resolveExit());
    child.once('error', (error) => {
      output.push(`prometheus did not run (install Debian's prometheus package): ${error.message}`);
      resolveExit();
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}`);
        return (await fetch(`${url}/-/ready`)).status === 200;
      },
      { timeoutMs: 30000, what: 'Prometheus to be ready' },
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output.join('')}`, { cause: error });
  }
  return {
    url,
    output,
    stop,
    api: async <T>(path: string, params: Record<string, string> = {}) => {
      const response = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params).toString()}`);
      const body = (await response.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
      return body.data;
    },
  };
}
