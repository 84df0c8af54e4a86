import { PartitionProgress } from '../src/consume/PartitionProgress';

describe('PartitionProgress (the commit point of one partition)', () => {
  test('When offsets finish out of order, then the commit point is the lowest unfinished one (held included), and moves past all once they are done', () => {
    const progress = new PartitionProgress();
    expect(progress.pendingCommit()).toBeUndefined();
    for (const offset of ['10', '11', '12', '13']) expect(progress.take(offset)).toBe(true);
    progress.finish('12');
    progress.finish('13');
    expect(progress.pendingCommit()).toBe('10');
    progress.finish('10');
    progress.hold('11');
    expect(progress.pendingCommit()).toBe('11');
    progress.markCommitted('11');
    expect(progress.pendingCommit()).toBeUndefined();
    // A rebalance redelivers from the commit point: those offsets were taken already, not again.
    expect(progress.isTaken('11')).toBe(true);
    expect(progress.take('11')).toBe(false);
    expect(progress.heldCount).toBe(1);
    progress.finish('11');
    expect(progress.pendingCommit()).toBe('14');
    // Transaction markers at the end of a batch move the end without work.
    progress.pass('15');
    expect(progress.pendingCommit()).toBe('16');
    expect(progress.unfinishedCount).toBe(0);
  });
});
