import { loadConfig } from '../src/config';

describe('notifier configuration', () => {
  test('When the configuration is inconsistent, then loading it lists every problem', () => {
    let problems: string[] = [];
    try {
      loadConfig({
        WEBHOOK_URL: 'http://hooks.example.com/x',
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        KAFKA_HEARTBEAT_INTERVAL_MS: '6000',
        NOTIFIER_RETRY_INITIAL_MS: '5000',
        NOTIFIER_RETRY_MAX_MS: '100',
        NOTIFIER_GAP_RECHECK_MS: '5000',
        NOTIFIER_GAP_RECHECK_MAX_MS: '1000',
      });
    } catch (error) {
      problems = (error as { problems: string[] }).problems;
    }
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'KAFKA_HEARTBEAT_INTERVAL_MS',
      'NOTIFIER_GAP_RECHECK_MS',
      'NOTIFIER_RETRY_INITIAL_MS',
      'WEBHOOK_SECRET',
    ]);
    const defaults = loadConfig({});
    expect(defaults.webhook).toBeUndefined();
    expect(defaults.consumer).toMatchObject({
      partitionConcurrency: 3,
      maxInFlight: 16,
      commitIntervalMs: 100,
      gapTimeoutMs: 60000,
      heldMaxEvents: 1000,
      heldMaxBytes: 16 * 1024 * 1024,
    });
    expect(defaults.webhookRetry).toEqual({ maxAttempts: 10, maxMs: 600000 });
  });
});
