import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import { AppError } from '../errors/AppError';
import type { Logger } from '../observability/createLogger';
import { pollUntil } from '../lifecycle/pollUntil';
import type { TopicDefinition } from './topicDefinitions';

/** Options for {@link ensureTopics}. */
export interface EnsureTopicsOptions {
  /** A client for the cluster, with its security (see `createKafka`). */
  kafka: Kafka;
  /** The topics to have, usually `topicDefinitions({ topic, … })`. */
  definitions: TopicDefinition[];
  /** How long to wait for every partition to have a leader, in milliseconds (default 30 s). */
  timeoutMs?: number;
  logger?: Logger;
}

/** What {@link ensureTopics} did. */
export interface EnsureTopicsReport {
  /** Topics it created. */
  created: string[];
  /** Topics that existed already and match their definition. */
  existing: string[];
}

/** Every way an existing topic falls short of its definition, one sentence each. */
async function mismatches(admin: Admin, definitions: TopicDefinition[]): Promise<string[]> {
  const problems: string[] = [];
  const metadata = await admin.fetchTopicMetadata({ topics: definitions.map((definition) => definition.topic) });
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: definitions
      .filter((definition) => definition.configEntries.length > 0)
      .map((definition) => ({
        type: ConfigResourceTypes.TOPIC,
        name: definition.topic,
        configNames: definition.configEntries.map((entry) => entry.name),
      })),
  });
  for (const definition of definitions) {
    const { topic } = definition;
    const partitions = metadata.topics.find((described) => described.name === topic)?.partitions ?? [];
    // More partitions than defined is fine (partitions can only be added); fewer breaks the spread.
    if (partitions.length < definition.numPartitions) {
      problems.push(
        `${topic} has ${partitions.length} partitions, the definition needs at least ${definition.numPartitions} (add partitions; Kafka cannot remove them)`,
      );
    }
    const replicas = Math.min(...partitions.map((partition) => partition.replicas.length));
    if (definition.replicationFactor > 0 && partitions.length > 0 && replicas !== definition.replicationFactor) {
      problems.push(
        `${topic} has replication factor ${replicas}, the definition says ${definition.replicationFactor} (reassign partitions)`,
      );
    }
    const described = configs.resources.find((resource) => resource.resourceName === topic)?.configEntries ?? [];
    for (const entry of definition.configEntries) {
      const actual = described.find((candidate) => candidate.configName === entry.name)?.configValue;
      if (actual !== entry.value) {
        problems.push(
          `${topic} has ${entry.name}=${actual ?? '(unset)'}, the definition says ${entry.value} (alter the topic config)`,
        );
      }
    }
  }
  return problems;
}

/**
 * Makes the cluster hold the defined topics: creates the missing ones with their partitions,
 * replication factor and configs, waits until every partition has a leader, then checks every
 * listed topic against its definition. Idempotent and safe to run from several processes at once.
 * An existing topic that differs (fewer partitions, another replication factor, a config value
 * other than the defined one) is never silently accepted nor changed: the call fails with
 * `kafka.topic_mismatch`, listing each difference.
 */
export async function ensureTopics(options: EnsureTopicsOptions): Promise<EnsureTopicsReport> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    const before = new Set(await admin.listTopics());
    const missing = options.definitions.filter((definition) => !before.has(definition.topic));
    if (missing.length > 0) {
      // Resolves false instead of failing when another process created a topic meanwhile.
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
    await pollUntil(
      async () => {
        const metadata = await admin.fetchTopicMetadata({ topics });
        return metadata.topics.every(
          (topic) => topic.partitions.length > 0 && topic.partitions.every((partition) => partition.leader >= 0),
        );
      },
      { what: `leaders for every partition of ${topics.join(', ')}`, timeoutMs, intervalMs: 200 },
    );
    const problems = await mismatches(admin, options.definitions);
    if (problems.length > 0) {
      throw new AppError(
        'kafka.topic_mismatch',
        `existing Kafka topics differ from their definition:\n  ${problems.join('\n  ')}`,
        { retriable: false, details: { problems } },
      );
    }
    const report = {
      created: missing.map((definition) => definition.topic),
      existing: options.definitions.filter((definition) => before.has(definition.topic)).map((d) => d.topic),
    };
    if (report.created.length > 0) options.logger?.info(report, 'created Kafka topics');
    return report;
  } finally {
    await admin.disconnect();
  }
}
