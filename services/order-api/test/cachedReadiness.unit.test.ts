import { cachedReadiness } from '../src/ops/cachedReadiness';
import { waitFor } from '@outbox/testkit';

describe('cachedReadiness (injected check and clock)', () => {
  let nowMs = 1_000_000;
  const clock = () => nowMs;

  test('When many probes arrive during and after one check, then the check runs once per interval', async () => {
    let checks = 0;
    let finish!: (ready: boolean) => void;
    const isReady = cachedReadiness({
      check: () => {
        checks += 1;
        return new Promise<boolean>((resolve) => (finish = resolve));
      },
      intervalMs: 2000,
      nowMs: clock,
    });
    const during = Array.from({ length: 20 }, () => isReady());
    await waitFor(async () => checks === 1, { what: 'the check to start', timeoutMs: 2000 });
    finish(true);
    expect(await Promise.all(during)).toEqual(Array(20).fill(true));
    nowMs += 1999;
    expect(await Promise.all(Array.from({ length: 20 }, () => isReady()))).toEqual(Array(20).fill(true));
    expect(checks).toBe(1);

    nowMs += 1;
    const next = isReady();
    await waitFor(async () => checks === 2, { what: 'the second check to start', timeoutMs: 2000 });
    finish(false);
    expect(await next).toBe(false);
    expect(await isReady()).toBe(false);
    expect(checks).toBe(2);
  });

  test('When the check throws, then readiness is false and the failure is kept for the interval too', async () => {
    let checks = 0;
    const isReady = cachedReadiness({
      check: async () => {
        checks += 1;
        throw new Error('DynamoDB is down');
      },
      intervalMs: 500,
      nowMs: clock,
    });
    expect(await isReady()).toBe(false);
    expect(await isReady()).toBe(false);
    expect(checks).toBe(1);
    nowMs += 500;
    expect(await isReady()).toBe(false);
    expect(checks).toBe(2);
  });
});
