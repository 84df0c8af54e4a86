import { waitFor, type TopicDefinition } from '@outbox/shared';
import { Kafka, logLevel } from 'kafkajs';

/** Options for {@link ensureTopics}. */
export interface EnsureTopicsOptions {
  /** `host:port` of one or more brokers. */
  brokers: string[];
  /** The topics to have, usually `topicDefinitions({ topic })` from `@outbox/shared`. */
  definitions: TopicDefinition[];
  /** How long to wait for every partition to have a leader, in milliseconds (default 30 s). */
  timeoutMs?: number;
}

/**
 * Creates the topics that do not exist yet (existing ones are left as they are) and waits until
 * every partition of every listed topic has a leader, so producers can write at once.
 *
 * @returns The names of the topics it created.
 */
export async function ensureTopics(options: EnsureTopicsOptions): Promise<string[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const admin = new Kafka({
    clientId: 'local-stack-ensure-topics',
    brokers: options.brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = options.definitions.filter((definition) => !existing.has(definition.topic));
    if (missing.length > 0) {
      // Resolves false instead of failing when a topic appeared meanwhile.
      await admin.createTopics({
        topics: missing.map((definition) => ({
          topic: definition.topic,
          numPartitions: definition.numPartitions,
          replicationFactor: definition.replicationFactor,
          configEntries: definition.configEntries,
        })),
        waitForLeaders: true,
        timeout: timeoutMs,
      });
    }
    const topics = options.definitions.map((definition) => definition.topic);
    await waitFor(
      async () => {
        const metadata = await admin.fetchTopicMetadata({ topics });
        return metadata.topics.every(
          (topic) => topic.partitions.length > 0 && topic.partitions.every((partition) => partition.leader >= 0),
        );
      },
      { what: `leaders for every partition of ${topics.join(', ')}`, timeoutMs, intervalMs: 200 },
    );
    return missing.map((definition) => definition.topic);
  } finally {
    await admin.disconnect();
  }
}
