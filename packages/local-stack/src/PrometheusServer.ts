import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { LocalServer, type LocalServerOptions } from './LocalServer';
import { ManagedProcess } from './ManagedProcess';
import { repoRoot } from './repoRoot';

/** Printed when the `prometheus` binary is missing. */
export const PROMETHEUS_REQUIRED_MESSAGE =
  'prometheus is not installed (on Debian/Ubuntu: `sudo apt-get install prometheus`): going on without it.';

/** Whether a `prometheus` binary is on the PATH of `env`. */
export function prometheusInstalled(env: NodeJS.ProcessEnv = process.env): boolean {
  const result = spawnSync('prometheus', ['--version'], { stdio: 'ignore', env });
  return result.error === undefined && result.status === 0;
}

/** The repo's scrape configuration, `ops/prometheus.yml` (its rule files are relative to it). */
export function repoPrometheusConfigFile(): string {
  return path.join(repoRoot(), 'ops', 'prometheus.yml');
}

interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[] }[];
}

interface PrometheusConfig {
  global: Record<string, string>;
  rule_files?: string[];
  scrape_configs: ScrapeConfig[];
}

/** Options for {@link prometheusConfig}. */
export interface PrometheusConfigOptions {
  /** Job name of `ops/prometheus.yml` → the `host:port` to scrape instead of the file's target. */
  targets?: Record<string, string>;
  /** Scrape and evaluation interval; the file's when unset. */
  intervalSeconds?: number;
  /** Scrape only the jobs named in `targets`, leaving out the file's others. */
  onlyTheseTargets?: boolean;
  /** Absolute paths of rule files to load instead of the file's. */
  ruleFiles?: string[];
}

/** The jobs of `ops/prometheus.yml` and the one target each scrapes. */
export function repoPrometheusTargets(): Record<string, string> {
  const config = parse(fs.readFileSync(repoPrometheusConfigFile(), 'utf8')) as PrometheusConfig;
  return Object.fromEntries(
    config.scrape_configs.map((scrape) => [scrape.job_name, scrape.static_configs.flatMap((s) => s.targets).join(',')]),
  );
}

/**
 * `ops/prometheus.yml` with its targets, intervals and rule files changed as asked, its rule files
 * made absolute so the result works from any folder. Throws when a job has no target.
 */
export function prometheusConfig(options: PrometheusConfigOptions = {}): string {
  const file = repoPrometheusConfigFile();
  const config = parse(fs.readFileSync(file, 'utf8')) as PrometheusConfig;
  const targets = options.targets ?? {};
  if (options.onlyTheseTargets) {
    config.scrape_configs = config.scrape_configs.filter((scrape) => targets[scrape.job_name] !== undefined);
  }
  for (const scrape of config.scrape_configs) {
    const target = targets[scrape.job_name];
    if (target !== undefined) scrape.static_configs = [{ targets: [target] }];
  }
  if (options.intervalSeconds !== undefined) {
    config.global.scrape_interval = `${options.intervalSeconds}s`;
    config.global.evaluation_interval = `${options.intervalSeconds}s`;
  }
  config.rule_files =
    options.ruleFiles ?? (config.rule_files ?? []).map((rules) => path.resolve(path.dirname(file), rules));
  return stringify(config);
}

/** Options for {@link PrometheusServer}. */
export interface PrometheusServerOptions extends LocalServerOptions {
  /** Port to listen on, on 127.0.0.1 (default 9090). */
  port?: number;
  /** The configuration file to run. */
  configFile: string;
  /** The TSDB folder. */
  storageDir: string;
  /** Where `prometheus-<port>.log` goes. */
  logDir: string;
}

/**
 * Prometheus (Debian's `prometheus` package) run as a child process. Healthy when `/-/ready`
 * answers 200.
 */
export class PrometheusServer extends LocalServer {
  readonly name = 'Prometheus';
  private readonly configFile: string;
  private readonly storageDir: string;
  private readonly logDir: string;

  constructor(options: PrometheusServerOptions) {
    super(options.port ?? 9090, options, { startTimeoutMs: 30_000 });
    this.configFile = options.configFile;
    this.storageDir = options.storageDir;
    this.logDir = options.logDir;
  }

  get logFiles(): string[] {
    return [path.join(this.logDir, `prometheus-${this.port}.log`)];
  }

  /** Prometheus's web UI and HTTP API. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  protected override isHealthy(): Promise<boolean> {
    return new Promise((resolve) => {
      const request = http.get(`${this.url}/-/ready`, { timeout: 2000 }, (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      });
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', () => resolve(false));
    });
  }

  protected override async launch(): Promise<ManagedProcess> {
    fs.mkdirSync(this.storageDir, { recursive: true });
    fs.mkdirSync(this.logDir, { recursive: true });
    const logFile = this.logFiles[0]!;
    fs.writeFileSync(logFile, '');
    const child = spawn(
      'prometheus',
      [
        `--config.file=${this.configFile}`,
        `--storage.tsdb.path=${this.storageDir}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: this.detached },
    );
    return new ManagedProcess({ name: this.name, child, logFile });
  }
}
