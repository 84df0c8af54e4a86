import { AppError } from '../errors/AppError';

/** One Kafka topic the system needs, with the settings it is created with. */
export interface TopicDefinition {
  topic: string;
  numPartitions: number;
  /** Replication factor; 1 is right only for a single local broker; -1 takes the cluster's default. */
  replicationFactor: number;
  configEntries: { name: string; value: string }[];
}

/** Options for {@link topicDefinitions}. */
export interface TopicDefinitionsOptions {
  /** The main events topic; its dead-letter topic is `<topic>.dlq`. */
  topic: string;
  /** Partitions per topic (at least 3 so aggregates spread across partitions). */
  numPartitions?: number;
  /**
   * Copies of each partition (default 1, the local broker). 3 on a provisioned MSK cluster; -1
   * takes the cluster's default (use it on MSK Serverless, which manages replication itself).
   */
  replicationFactor?: number;
  /**
   * `min.insync.replicas` of both topics: with the producer's acks from all replicas, a write
   * succeeds only when this many replicas have it (2 of 3 survives one broker loss). Unset leaves
   * the cluster's default (leave it unset on MSK Serverless, which does not let clients set it).
   */
  minInsyncReplicas?: number;
}

/**
 * The largest record batch the pipeline's topics accept (`max.message.bytes`, Kafka's default
 * broker limit), set on each topic so a producer's byte budget can be checked against it.
 */
export const TOPIC_MAX_MESSAGE_BYTES = 1_048_588;

/** The name of the dead-letter topic that belongs to `topic`. */
export function deadLetterTopicFor(topic: string): string {
  return `${topic}.dlq`;
}

/**
 * The one definition of the topics the outbox pipeline uses; the local stack and the tests
 * create their topics from it.
 */
export function topicDefinitions(options: TopicDefinitionsOptions): TopicDefinition[] {
  const numPartitions = options.numPartitions ?? 3;
  const replicationFactor = options.replicationFactor ?? 1;
  // A dead letter must outlive the incident that produced it: keep them four weeks.
  const dlqRetentionMs = String(28 * 24 * 60 * 60 * 1000);
  const minInsync = options.minInsyncReplicas;
  if (minInsync !== undefined && (minInsync < 1 || (replicationFactor > 0 && minInsync > replicationFactor))) {
    throw new AppError(
      'kafka.topic_definition_invalid',
      `min.insync.replicas ${minInsync} must be between 1 and the replication factor ${replicationFactor}`,
    );
  }
  const durability = minInsync === undefined ? [] : [{ name: 'min.insync.replicas', value: String(minInsync) }];
  const maxMessageBytes = { name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) };
  return [
    { topic: options.topic, numPartitions, replicationFactor, configEntries: [maxMessageBytes, ...durability] },
    {
      topic: deadLetterTopicFor(options.topic),
      numPartitions,
      replicationFactor,
      configEntries: [{ name: 'retention.ms', value: dlqRetentionMs }, maxMessageBytes, ...durability],
    },
  ];
}
