import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { prometheusConfig, prometheusInstalled, repoPrometheusTargets } from '../src/PrometheusServer';

describe('prometheusConfig', () => {
  test('When the services run on other ports, then the copy scrapes those and loads the same rule files by absolute path', () => {
    const config = parse(prometheusConfig({ targets: { 'order-api': '127.0.0.1:29100' } })) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = Object.fromEntries(
      config.scrape_configs.map((scrape) => [scrape.job_name, scrape.static_configs.flatMap((s) => s.targets)]),
    );
    expect(targets).toEqual({
      'order-api': ['127.0.0.1:29100'],
      'outbox-relay': [repoPrometheusTargets()['outbox-relay']],
      notifier: [repoPrometheusTargets().notifier],
    });
    expect(config.rule_files.length).toBeGreaterThan(0);
    for (const file of config.rule_files) {
      expect(path.isAbsolute(file)).toBe(true);
      expect(fs.existsSync(file)).toBe(true);
    }
  });
});

describe('prometheusInstalled', () => {
  test('When the PATH has no prometheus binary, then it says so (and the cli goes on without it)', () => {
    const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'empty-path-'));
    try {
      expect(prometheusInstalled({ ...process.env, PATH: emptyDir })).toBe(false);
    } finally {
      fs.rmSync(emptyDir, { recursive: true, force: true });
    }
  });

  test('When Debian’s prometheus package is installed, then it is found', () => {
    expect(prometheusInstalled()).toBe(true);
  });
});
