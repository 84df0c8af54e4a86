import { z } from 'zod';
import {
  ConfigError,
  checkKafkaSettings,
  commonSettings,
  kafkaConfigFromSettings,
  kafkaSettings,
  parseConfig,
} from '../src';

const schema = z
  .object({ ...commonSettings, ...kafkaSettings })
  .superRefine(checkKafkaSettings)
  .transform((env) => kafkaConfigFromSettings(env));

function problemsOf(env: NodeJS.ProcessEnv): string {
  try {
    parseConfig(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('Kafka settings', () => {
  test('When nothing is set, then Kafka is plaintext on the local broker and topics are not ensured', () => {
    expect(parseConfig(schema, {})).toEqual({
      brokers: ['127.0.0.1:9092'],
      topic: 'order-notification-event-topic',
      security: { mode: 'plaintext' },
      ensureTopics: false,
      topics: { topic: 'order-notification-event-topic' },
    });
  });

  test('When TLS is chosen with a CA file, then the config carries the CA file', () => {
    const config = parseConfig(schema, { KAFKA_SECURITY: 'tls', KAFKA_TLS_CA_FILE: '/etc/kafka/ca.pem' });
    expect(config.security).toEqual({ mode: 'tls', caFile: '/etc/kafka/ca.pem' });
  });

  test('When SCRAM credentials come as two variables or as one JSON secret, then both give the same config', () => {
    const fromPair = parseConfig(schema, {
      KAFKA_SECURITY: 'sasl-scram-sha-512',
      KAFKA_SASL_USERNAME: 'relay',
      KAFKA_SASL_PASSWORD: 'pw-1',
    });
    const fromSecret = parseConfig(schema, {
      KAFKA_SECURITY: 'sasl-scram-sha-512',
      KAFKA_SASL_SECRET: '{"username":"relay","password":"pw-1"}',
    });
    expect(fromPair.security).toEqual({ mode: 'sasl-scram-sha-512', username: 'relay', password: 'pw-1' });
    expect(fromSecret.security).toEqual(fromPair.security);
  });

  test('When SCRAM is chosen without credentials, or with a broken secret, then the problems are listed without echoing the secret', () => {
    expect(problemsOf({ KAFKA_SECURITY: 'sasl-scram-sha-512' })).toMatch(
      /KAFKA_SASL_SECRET: .*needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD, or KAFKA_SASL_SECRET/,
    );
    expect(problemsOf({ KAFKA_SECURITY: 'sasl-scram-sha-512', KAFKA_SASL_USERNAME: 'relay' })).toMatch(
      /KAFKA_SASL_PASSWORD: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD go together/,
    );
    const broken = problemsOf({ KAFKA_SECURITY: 'sasl-scram-sha-512', KAFKA_SASL_SECRET: '{"username":"relay","pass' });
    expect(broken).toMatch(/KAFKA_SASL_SECRET: must be JSON/);
    expect(broken).not.toMatch(/pass"/);
    expect(problemsOf({ KAFKA_SASL_SECRET: '{"username":"relay"}' })).toMatch(/KAFKA_SASL_SECRET/);
  });

  test('When IAM is chosen, then the region comes from KAFKA_IAM_REGION, else the MSK broker names, else AWS_REGION', () => {
    const serverless = 'boot-abcd1234.c2.kafka-serverless.eu-central-1.amazonaws.com:9098';
    const provisioned = 'b-1.orders.x1y2z3.c4.kafka.ap-southeast-2.amazonaws.com:9098';
    const regionOf = (env: NodeJS.ProcessEnv) => {
      const { security } = parseConfig(schema, { KAFKA_SECURITY: 'sasl-iam', ...env });
      return security.mode === 'sasl-iam' ? security.region : undefined;
    };
    expect(regionOf({ KAFKA_BROKERS: serverless, KAFKA_IAM_REGION: 'us-west-2' })).toBe('us-west-2');
    expect(regionOf({ KAFKA_BROKERS: serverless, AWS_REGION: 'us-west-2' })).toBe('eu-central-1');
    expect(regionOf({ KAFKA_BROKERS: provisioned })).toBe('ap-southeast-2');
    expect(regionOf({ KAFKA_BROKERS: 'kafka.internal:9098', AWS_REGION: 'sa-east-1' })).toBe('sa-east-1');
  });

  test('When topic settings are given, then they reach the topic definition options; impossible combinations are refused', () => {
    const config = parseConfig(schema, {
      KAFKA_ENSURE_TOPICS: 'true',
      KAFKA_TOPIC_PARTITIONS: '6',
      KAFKA_TOPIC_REPLICATION_FACTOR: '3',
      KAFKA_TOPIC_MIN_INSYNC_REPLICAS: '2',
    });
    expect(config.ensureTopics).toBe(true);
    expect(config.topics).toEqual({
      topic: 'order-notification-event-topic',
      numPartitions: 6,
      replicationFactor: 3,
      minInsyncReplicas: 2,
    });
    expect(problemsOf({ KAFKA_TOPIC_MIN_INSYNC_REPLICAS: '2' })).toMatch(
      /KAFKA_TOPIC_MIN_INSYNC_REPLICAS: must not exceed/,
    );
    expect(problemsOf({ KAFKA_TOPIC_REPLICATION_FACTOR: '0' })).toMatch(/KAFKA_TOPIC_REPLICATION_FACTOR/);
    expect(problemsOf({ KAFKA_ENSURE_TOPICS: 'yes' })).toMatch(/KAFKA_ENSURE_TOPICS/);
    expect(problemsOf({ KAFKA_SECURITY: 'ssl' })).toMatch(/KAFKA_SECURITY/);
  });
});
