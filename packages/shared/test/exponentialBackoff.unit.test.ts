import { exponentialBackoff } from '../src/lifecycle/exponentialBackoff';

describe('exponentialBackoff', () => {
  test('When retries repeat, then the backoff doubles from the initial delay up to the cap and jitter only shortens it', () => {
    const noJitter = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 50].map(noJitter)).toEqual([100, 200, 400, 800, 1000, 1000]);
    const fullRandom = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.999 });
    expect(fullRandom(10)).toBeGreaterThanOrEqual(500);
    expect(fullRandom(10)).toBeLessThanOrEqual(1000);
  });
});
