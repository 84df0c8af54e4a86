import { nextIdleDelay } from '../src/relay/idleDelay';

describe('idle polling', () => {
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
