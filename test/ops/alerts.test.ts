import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runPromtool } from '@outbox/testkit';

const repoRoot = join(__dirname, '..', '..');
const rulesFile = join(repoRoot, 'ops', 'prometheus', 'alerts.yml');

interface AlertRule {
  alert: string;
  expr: string;
  annotations?: Record<string, string>;
}

function alertRules(): AlertRule[] {
  const rules = parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return rules.groups.flatMap((group) => group.rules);
}

describe('the Prometheus alert rules (ops/prometheus/alerts.yml)', () => {
  test('When promtool checks the rules and the scrape config that loads them, then both pass', async () => {
    const rules = await runPromtool(['check', 'rules', rulesFile]);
    expect({ code: rules.code, output: rules.stdout + rules.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining('SUCCESS: 11 rules found') as string,
    });
    const config = await runPromtool(['check', 'config', join(repoRoot, 'ops', 'prometheus.yml')]);
    expect({ code: config.code, output: config.stdout + config.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining('SUCCESS: 1 rule files found') as string,
    });
  });

  test('When promtool runs the unit tests (ops/prometheus/alerts.test.yml), then every alert fires and stays quiet as tested', async () => {
    const result = await runPromtool(['test', 'rules', join(repoRoot, 'ops', 'prometheus', 'alerts.test.yml')]);
    expect({ code: result.code, output: result.stdout + result.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining('SUCCESS') as string,
    });
    // Every alert has a unit test of it firing and of it not firing.
    const tests = readFileSync(join(repoRoot, 'ops', 'prometheus', 'alerts.test.yml'), 'utf8');
    const testCases = (
      parse(tests) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }
    ).tests.flatMap((group) => group.alert_rule_test);
    for (const { alert } of alertRules()) {
      const cases = testCases.filter((testCase) => testCase.alertname === alert);
      expect({
        alert,
        fires: cases.some((c) => c.exp_alerts.length > 0),
        quiet: cases.some((c) => c.exp_alerts.length === 0),
      }).toEqual({
        alert,
        fires: true,
        quiet: true,
      });
    }
  });

  test('When the rules are read, then each alert links its own runbook under docs/runbooks/ and the runbook exists', () => {
    const rules = alertRules();
    expect(rules.map((rule) => rule.alert).sort()).toEqual([
      'ApiServerErrors',
      'EndToEndLatencyHigh',
      'NotifierConsumerLagHigh',
      'NotifierDeadLetters',
      'NotifierEventsHeld',
      'RelayDeadLetters',
      'RelayLagHigh',
      'RelayMultipleLeaders',
      'RelayNoLeader',
      'RelayStalled',
      'TracesIncomplete',
    ]);
    const runbooks = rules.map((rule) => rule.annotations?.runbook_url ?? '');
    expect(
      runbooks.filter((url) => !/^docs\/runbooks\/[a-z0-9-]+\.md$/.test(url) || !existsSync(join(repoRoot, url))),
    ).toEqual([]);
    expect(new Set(runbooks).size).toBe(rules.length);
  });
});
