/**
 * The pause before the next poll: none while records flow; when idle, 10 ms doubling up to
 * `idleMaxMs`, so an idle relay adds at most `idleMaxMs` of latency.
 */
export function nextIdleDelay(previousMs: number, progressed: boolean, idleMaxMs: number): number {
  if (progressed) return 0;
  return Math.min(idleMaxMs, Math.max(10, previousMs * 2));
}
