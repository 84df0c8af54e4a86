/**
 * Tracks which offsets of one partition are unfinished, to know how far it is safe to commit.
 * Messages are taken in offset order but finish in any order (events of different aggregates run
 * concurrently, and a held event waits for an earlier seq of its aggregate). The commit point is
 * the lowest unfinished offset, or one past the highest taken when all are finished, so it never
 * passes unfinished work: a restart redelivers from there on and the inbox skips what was done.
 */
export class PartitionProgress {
  /** One past the highest offset taken (or passed over, like transaction markers). */
  private next: bigint | undefined;
  /**
   * Unfinished offsets (in flight, queued behind their key, or held). Offsets are only ever added
   * in increasing order and a Set iterates in insertion order, so the first one is the lowest.
   */
  private readonly unfinished = new Set<bigint>();
  private readonly held = new Set<bigint>();
  private committed: bigint | undefined;

  /** Whether `offset` was taken (or passed over) before: then it is in flight, held or done. */
  isTaken(offset: string): boolean {
    return this.next !== undefined && BigInt(offset) < this.next;
  }

  /**
   * Records that `offset` was taken for processing; false when it was taken before (a redelivery
   * after a rebalance, from the commit point on): then it is in flight, held or done already.
   */
  take(offset: string): boolean {
    const value = BigInt(offset);
    if (this.next !== undefined && value < this.next) return false;
    this.next = value + 1n;
    this.unfinished.add(value);
    return true;
  }

  /** Moves the end past `offset` without work (the transaction markers at the end of a batch). */
  pass(offset: string): void {
    const value = BigInt(offset);
    if (this.next === undefined || value + 1n > this.next) this.next = value + 1n;
  }

  /** Records that a taken offset now waits for an earlier seq of its aggregate. */
  hold(offset: string): void {
    this.held.add(BigInt(offset));
  }

  /** Records that a taken (or held) offset is done. */
  finish(offset: string): void {
    const value = BigInt(offset);
    this.unfinished.delete(value);
    this.held.delete(value);
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** Taken offsets not yet finished, held ones included. */
  get unfinishedCount(): number {
    return this.unfinished.size;
  }

  /** The offset to commit (the next one to read after a restart), or undefined if nothing was taken. */
  commitPoint(): string | undefined {
    for (const lowest of this.unfinished) return String(lowest);
    return this.next === undefined ? undefined : String(this.next);
  }

  /** The commit point when it moved past the last committed offset. */
  pendingCommit(): string | undefined {
    const point = this.commitPoint();
    if (point === undefined) return undefined;
    return this.committed === undefined || BigInt(point) > this.committed ? point : undefined;
  }

  markCommitted(offset: string): void {
    const value = BigInt(offset);
    if (this.committed === undefined || value > this.committed) this.committed = value;
  }
}
