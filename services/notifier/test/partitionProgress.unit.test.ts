import { PartitionProgress } from '../src/consume/PartitionProgress';

describe('PartitionProgress (the commit point of one partition)', () => {
  test('When a message is held, then the commit point stays at it while later offsets are handled, and moves past all once it is released', () => {
    const progress = new PartitionProgress();
    expect(progress.pendingCommit()).toBeUndefined();
    progress.seen('10');
    progress.seen('11', true);
    progress.seen('12');
    progress.seen('13');
    expect(progress.pendingCommit()).toBe('11');
    progress.markCommitted('11');
    expect(progress.pendingCommit()).toBeUndefined();
    // A rebalance redelivers the held offset: it stays held, not handled twice.
    expect(progress.isHeld('11')).toBe(true);
    progress.release('11');
    expect(progress.pendingCommit()).toBe('14');
  });
});
