import { creationTimeMs, creationTimeRange, shardLagMs } from '../src/relay/shardLag';
import { insert } from './fakes';

describe('shard lag (pure)', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');

  test('When a record carries both a server time and an occurredAt, then its creation time is the older of the two; unknown times fall back', () => {
    const writerBehind = insert('s', '1', 'a', 1, '2026-11-25T11:59:00Z', now - 30_000);
    const writerAhead = insert('s', '2', 'a', 2, '2026-11-25T12:05:00Z', now - 10_000);
    expect(creationTimeMs(writerBehind)).toBe(now - 60_000);
    expect(creationTimeMs(writerAhead)).toBe(now - 10_000);
    expect(creationTimeMs({ shardId: 's', sequenceNumber: '3', eventName: 'INSERT', unreadable: 'x' })).toBeUndefined();
    expect(
      creationTimeRange([writerAhead, writerBehind, { shardId: 's', sequenceNumber: '3', eventName: 'REMOVE' }], now),
    ).toEqual({ oldest: now - 60_000, newest: now });
  });

  test('When records are pending, then the lag is their age and grows with time; 0 only at the tip; an acknowledged batch bounds it; unknown before any read', () => {
    expect(shardLagMs({ pendingSinceMs: now - 5000 }, now)).toBe(5000);
    expect(shardLagMs({ pendingSinceMs: now - 5000 }, now + 7000)).toBe(12_000);
    expect(shardLagMs({ pendingSinceMs: now - 5000, atTip: true }, now)).toBe(5000);
    expect(shardLagMs({ atTip: true }, now + 60_000)).toBe(0);
    expect(shardLagMs({ ackedUpToMs: now - 2000 }, now)).toBe(2000);
    expect(shardLagMs({ pendingSinceMs: now + 3000 }, now)).toBe(0);
    expect(shardLagMs({}, now)).toBeUndefined();
  });
});
