import { createKafka, createLogger, ensureTopics as ensureClusterTopics, type TopicDefinition } from '@outbox/shared';

/** Options for {@link ensureTopics}. */
export interface EnsureTopicsOptions {
  /** `host:port` of one or more brokers (plaintext, the local broker). */
  brokers: string[];
  /** The topics to have, usually `topicDefinitions({ topic })` from `@outbox/shared`. */
  definitions: TopicDefinition[];
  /** How long to wait for every partition to have a leader, in milliseconds (default 30 s). */
  timeoutMs?: number;
}

/**
 * The local stack's side of `ensureTopics` from `@outbox/shared` (the one implementation, which
 * also serves the services in AWS): creates the missing topics, waits for their leaders, and fails
 * when an existing topic differs from its definition.
 *
 * @returns The names of the topics it created.
 */
export async function ensureTopics(options: EnsureTopicsOptions): Promise<string[]> {
  const kafka = createKafka({
    clientId: 'local-stack-ensure-topics',
    brokers: options.brokers,
    logger: createLogger({ service: 'local-stack', level: 'silent' }),
  });
  const report = await ensureClusterTopics({ kafka, definitions: options.definitions, timeoutMs: options.timeoutMs });
  return report.created;
}
