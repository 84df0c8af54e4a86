/** One Kafka topic the system needs, with the settings it is created with. */
export interface TopicDefinition {
  topic: string;
  numPartitions: number;
  /** Replication factor; 1 is right only for a single local broker. */
  replicationFactor: number;
  configEntries: { name: string; value: string }[];
}

/** Options for {@link topicDefinitions}. */
export interface TopicDefinitionsOptions {
  /** The main events topic; its dead-letter topic is `<topic>.dlq`. */
  topic: string;
  /** Partitions per topic (at least 3 so aggregates spread across partitions). */
  numPartitions?: number;
  replicationFactor?: number;
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
  const maxMessageBytes = { name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) };
  return [
    { topic: options.topic, numPartitions, replicationFactor, configEntries: [maxMessageBytes] },
    {
      topic: deadLetterTopicFor(options.topic),
      numPartitions,
      replicationFactor,
      configEntries: [{ name: 'retention.ms', value: dlqRetentionMs }, maxMessageBytes],
    },
  ];
}
