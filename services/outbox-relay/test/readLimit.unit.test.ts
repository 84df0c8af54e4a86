import { MIN_READ_LIMIT, readLimit } from '../src/relay/readLimit';

describe('readLimit (records a read asks for)', () => {
  test('When the budget covers a full batch for every shard led and every read ahead, then each read asks for BATCH_SIZE', () => {
    expect([1, 2, 3].map((shards) => readLimit(500, 3000, shards, 4))).toEqual([500, 500, 500]);
    expect(readLimit(500, 3000, 6, 0)).toBe(500);
  });

  test('When an instance leads more shards than the budget covers, then it is shared evenly among the batches held and read ahead, so the records held stay within it', () => {
    expect(readLimit(500, 3000, 8, 4)).toBe(250);
    expect(readLimit(500, 3000, 4, 4)).toBe(375);
    expect(readLimit(500, 3000, 8, 0)).toBe(375);
    for (const [shards, ahead] of [
      [5, 4],
      [8, 4],
      [13, 2],
      [40, 4],
    ])
      expect(readLimit(500, 3000, shards, ahead) * (shards + Math.min(shards, ahead))).toBeLessThanOrEqual(3000);
  });

  test('When the share would be tiny, then a read still asks for the minimum, and never for more than BATCH_SIZE', () => {
    expect(readLimit(500, 3000, 1000, 4)).toBe(MIN_READ_LIMIT);
    expect(readLimit(10, 3000, 1000, 4)).toBe(10);
    expect(readLimit(10, 50, 1, 0)).toBe(10);
  });

  test('When no shard is led yet, then the count is taken as one', () => {
    expect(readLimit(500, 300, 0, 0)).toBe(300);
    expect(readLimit(500, 300, 0, 4)).toBe(150);
  });
});
