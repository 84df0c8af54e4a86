import type { z } from 'zod';
import type { KafkaSecurity, KafkaSecurityMode } from '../kafka/KafkaSecurity';
import type { TopicDefinitionsOptions } from '../kafka/topicDefinitions';

/** The parsed `kafkaSettings` (plus `AWS_REGION` when the schema has it). */
export interface KafkaSettings {
  KAFKA_BROKERS: string[];
  ORDER_EVENTS_TOPIC: string;
  KAFKA_ENSURE_TOPICS: boolean;
  KAFKA_TOPIC_PARTITIONS?: number;
  KAFKA_TOPIC_REPLICATION_FACTOR?: number;
  KAFKA_TOPIC_MIN_INSYNC_REPLICAS?: number;
  KAFKA_SECURITY: KafkaSecurityMode;
  KAFKA_TLS_CA_FILE?: string;
  KAFKA_SASL_USERNAME?: string;
  KAFKA_SASL_PASSWORD?: string;
  KAFKA_SASL_SECRET?: { username: string; password: string };
  KAFKA_IAM_REGION?: string;
  AWS_REGION?: string;
}

// MSK broker names carry the region: b-1.x.y.c2.kafka.eu-west-1.amazonaws.com,
// boot-abc.c1.kafka-serverless.eu-west-1.amazonaws.com.
const MSK_HOST = /\.kafka(?:-serverless)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?:\d+$/;

function regionOf(settings: KafkaSettings): string | undefined {
  if (settings.KAFKA_IAM_REGION) return settings.KAFKA_IAM_REGION;
  for (const broker of settings.KAFKA_BROKERS) {
    const match = MSK_HOST.exec(broker);
    if (match) return match[1];
  }
  return settings.AWS_REGION;
}

function scramCredentials(settings: KafkaSettings): { username: string; password: string } | undefined {
  if (settings.KAFKA_SASL_USERNAME && settings.KAFKA_SASL_PASSWORD) {
    return { username: settings.KAFKA_SASL_USERNAME, password: settings.KAFKA_SASL_PASSWORD };
  }
  return settings.KAFKA_SASL_SECRET;
}

/**
 * The cross-field rules of the Kafka settings, for a service schema's `superRefine`: SCRAM needs a
 * user name and password (both variables, or the JSON secret), IAM needs a region, and
 * `min.insync.replicas` cannot exceed the replication factor.
 */
export function checkKafkaSettings(settings: KafkaSettings, ctx: z.RefinementCtx): void {
  const replication = settings.KAFKA_TOPIC_REPLICATION_FACTOR;
  if (replication === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['KAFKA_TOPIC_REPLICATION_FACTOR'],
      message: 'must be at least 1, or -1 for the cluster default',
    });
  }
  const minInsync = settings.KAFKA_TOPIC_MIN_INSYNC_REPLICAS;
  // With -1 the cluster picks the replication factor, so only the cluster can judge.
  const knownReplication = replication === undefined ? 1 : replication;
  if (minInsync !== undefined && knownReplication > 0 && minInsync > knownReplication) {
    ctx.addIssue({
      code: 'custom',
      path: ['KAFKA_TOPIC_MIN_INSYNC_REPLICAS'],
      message: 'must not exceed KAFKA_TOPIC_REPLICATION_FACTOR (default 1)',
    });
  }
  if (settings.KAFKA_SECURITY === 'sasl-scram-sha-512') {
    const partial = Boolean(settings.KAFKA_SASL_USERNAME) !== Boolean(settings.KAFKA_SASL_PASSWORD);
    if (partial) {
      ctx.addIssue({
        code: 'custom',
        path: [settings.KAFKA_SASL_USERNAME ? 'KAFKA_SASL_PASSWORD' : 'KAFKA_SASL_USERNAME'],
        message: 'KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD go together',
      });
    } else if (!scramCredentials(settings)) {
      ctx.addIssue({
        code: 'custom',
        path: ['KAFKA_SASL_SECRET'],
        message:
          'KAFKA_SECURITY=sasl-scram-sha-512 needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD, or KAFKA_SASL_SECRET',
      });
    }
  }
  if (settings.KAFKA_SECURITY === 'sasl-iam' && !regionOf(settings)) {
    ctx.addIssue({
      code: 'custom',
      path: ['KAFKA_IAM_REGION'],
      message: 'KAFKA_SECURITY=sasl-iam needs a region: KAFKA_IAM_REGION, MSK broker host names, or AWS_REGION',
    });
  }
}

/** The Kafka part of a service's config, from the settings {@link checkKafkaSettings} accepted. */
export interface KafkaClientConfig {
  brokers: string[];
  /** The events topic; dead letters go to `<topic>.dlq`. */
  topic: string;
  security: KafkaSecurity;
  /** Whether the service creates (and checks) its topics at start. */
  ensureTopics: boolean;
  /** What `topicDefinitions` builds the topics from (unset values take its defaults). */
  topics: TopicDefinitionsOptions;
}

/**
 * The Kafka part of a service's config (brokers, topic, security, topic settings), for the
 * schema's `transform` once {@link checkKafkaSettings} passed.
 */
export function kafkaConfigFromSettings(settings: KafkaSettings): KafkaClientConfig {
  return {
    brokers: settings.KAFKA_BROKERS,
    topic: settings.ORDER_EVENTS_TOPIC,
    security: kafkaSecurityFromSettings(settings),
    ensureTopics: settings.KAFKA_ENSURE_TOPICS,
    topics: {
      topic: settings.ORDER_EVENTS_TOPIC,
      numPartitions: settings.KAFKA_TOPIC_PARTITIONS,
      replicationFactor: settings.KAFKA_TOPIC_REPLICATION_FACTOR,
      minInsyncReplicas: settings.KAFKA_TOPIC_MIN_INSYNC_REPLICAS,
    },
  };
}

function kafkaSecurityFromSettings(settings: KafkaSettings): KafkaSecurity {
  const caFile = settings.KAFKA_TLS_CA_FILE;
  switch (settings.KAFKA_SECURITY) {
    case 'plaintext':
      return { mode: 'plaintext' };
    case 'tls':
      return { mode: 'tls', caFile };
    case 'sasl-iam':
      return { mode: 'sasl-iam', caFile, region: regionOf(settings) as string };
    case 'sasl-scram-sha-512': {
      const credentials = scramCredentials(settings) as { username: string; password: string };
      return { mode: 'sasl-scram-sha-512', caFile, ...credentials };
    }
  }
}
