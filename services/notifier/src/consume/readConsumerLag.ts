import type { Admin } from 'kafkajs';
import { withTimeout } from '@outbox/shared';
import type { ReadConsumerLag } from './notifierMetrics';

/** Options for {@link consumerLagReader}. */
export interface ConsumerLagReaderOptions {
  admin: Admin;
  groupId: string;
  topic: string;
  /** Give up on one reading after this long (default 2 s). */
  timeoutMs?: number;
}

/**
 * Reads lag per partition as the partition's latest offset minus the group's committed offset
 * (minus the earliest retained offset when the group committed nothing yet). On a topic written
 * in transactions the latest offset counts the commit markers: the consumer commits past them
 * (`OrderEventsConsumer`, as Kafka's own consumer does), so a caught-up group reads 0 here and in
 * any other lag tool.
 */
export function consumerLagReader(options: ConsumerLagReaderOptions): ReadConsumerLag {
  const { admin, groupId, topic } = options;
  return () =>
    withTimeout(
      (async () => {
        const [ends, committed] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId, topics: [topic] }),
        ]);
        const committedByPartition = new Map(
          (committed.find((entry) => entry.topic === topic)?.partitions ?? []).map((p) => [
            p.partition,
            Number(p.offset),
          ]),
        );
        return ends.map(({ partition, high, low }) => {
          const at = committedByPartition.get(partition);
          const from = at === undefined || at < 0 ? Number(low) : at;
          return { topic, partition, lag: Math.max(0, Number(high) - from) };
        });
      })(),
      options.timeoutMs ?? 2000,
      'reading consumer lag',
    );
}
