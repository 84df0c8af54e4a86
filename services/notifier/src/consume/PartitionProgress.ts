/**
 * Tracks which offsets of one partition are done, to know how far it is safe to commit.
 * Messages are handled in offset order; a held message (an event waiting for an earlier seq of
 * its aggregate) is not done, so the commit point never passes it, while later messages may be
 * handled meanwhile. A restart then redelivers from the held message on; the inbox skips what
 * was already done.
 */
export class PartitionProgress {
  /** One past the highest offset handled or held. */
  private next: bigint | undefined;
  private readonly held = new Set<bigint>();
  private committed: bigint | undefined;

  /** Records that `offset` was handled (`held = false`) or is held. */
  seen(offset: string, held = false): void {
    const value = BigInt(offset);
    if (this.next === undefined || value + 1n > this.next) this.next = value + 1n;
    if (held) this.held.add(value);
  }

  /** Records that a held offset is now done. */
  release(offset: string): void {
    this.held.delete(BigInt(offset));
  }

  isHeld(offset: string): boolean {
    return this.held.has(BigInt(offset));
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** The offset to commit (the next one to read after a restart), or undefined if nothing is done. */
  commitPoint(): string | undefined {
    if (this.held.size > 0) {
      let lowest: bigint | undefined;
      for (const offset of this.held) if (lowest === undefined || offset < lowest) lowest = offset;
      return String(lowest);
    }
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
