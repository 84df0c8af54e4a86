import { nextFailureDelay, nextIdleDelay } from '../src/relay/backoff';

describe('backoff', () => {
  test('When publishing keeps failing, then the pause starts at the initial delay, doubles and stays at the cap', () => {
    const delays: number[] = [];
    let delay = 0;
    for (let i = 0; i < 8; i += 1) {
      delay = nextFailureDelay(delay, { initialMs: 100, maxMs: 1000 });
      delays.push(delay);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  });

  test('When records flow, then the relay re-polls at once, and when idle it backs off to at most the idle maximum', () => {
    let delay = 0;
    const idle: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      delay = nextIdleDelay(delay, false, 250);
      idle.push(delay);
    }
    expect(idle).toEqual([10, 20, 40, 80, 160, 250, 250]);
    expect(nextIdleDelay(250, true, 250)).toBe(0);
  });
});
