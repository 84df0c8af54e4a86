import { OUTBOX_TIME_INDEX_PARTITIONS, outboxTimeIndexKeys, outboxTimeIndexPartitionKeys } from '../src';

describe('outbox time index keys', () => {
  test('When an event is keyed, then its partition key names its UTC hour and one of the partitions, and its sort key orders by aggregate then seq', () => {
    const keys = outboxTimeIndexKeys({ aggregateId: 'a-1', seq: 7, occurredAt: '2026-11-25T13:59:59.999+02:00' });
    expect(outboxTimeIndexPartitionKeys(Date.parse('2026-11-25T11:00:00Z'))).toContain(keys.gsi1pk);
    expect(keys.gsi1sk).toBe('a-1#0000000007');
    expect(
      outboxTimeIndexKeys({ aggregateId: 'a-1', seq: 10, occurredAt: '2026-11-25T11:00:00Z' }).gsi1sk > keys.gsi1sk,
    ).toBe(true);
  });

  test('When the previous event of an aggregate lies in a later hour (a slower writer clock), then the next event keeps that hour', () => {
    const previousAt = '2026-11-25T14:00:00.500Z';
    const keys = outboxTimeIndexKeys(
      { aggregateId: 'a-2', seq: 2, occurredAt: '2026-11-25T13:59:59.000Z' },
      previousAt,
    );
    expect(keys.gsi1pk.startsWith('HOUR#2026-11-25T14#')).toBe(true);
  });

  test('When many aggregates are keyed, then one aggregate always lands in the same partition and every partition is used', () => {
    const used = new Set<string>();
    for (let i = 0; i < 200; i += 1) {
      const at = '2026-11-25T13:00:00Z';
      const first = outboxTimeIndexKeys({ aggregateId: `order-${i}`, seq: 1, occurredAt: at });
      const second = outboxTimeIndexKeys({ aggregateId: `order-${i}`, seq: 2, occurredAt: at });
      expect(second.gsi1pk).toBe(first.gsi1pk);
      used.add(first.gsi1pk);
    }
    expect(used.size).toBe(OUTBOX_TIME_INDEX_PARTITIONS);
  });
});
