import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { AppError, createKafka, createLogger, deadLetterTopicFor, ensureTopics, topicDefinitions } from '../src';
import { testEndpoints, uniqueName } from '@outbox/testkit';

describe('ensureTopics against the local broker', () => {
  const kafka = createKafka({
    clientId: 'ensure-topics-test',
    brokers: testEndpoints().kafkaBrokers,
    logger: createLogger({ service: 'test', level: 'silent' }),
  });
  let admin: Admin;
  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  async function describeTopic(topic: string, configNames: string[]) {
    const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames }],
    });
    const configs = Object.fromEntries(
      resources[0].configEntries.map((entry) => [
        entry.configName,
        { value: entry.configValue, isDefault: entry.isDefault },
      ]),
    );
    return { partitions: metadata.partitions.length, replicas: metadata.partitions[0].replicas.length, configs };
  }

  test('When the topics are ensured twice, and twice at once, then they are created once with the partitions, replication and configs of the definition, and later runs change nothing', async () => {
    const topic = uniqueName('ensure');
    const definitions = topicDefinitions({ topic, numPartitions: 4, replicationFactor: 1, minInsyncReplicas: 1 });

    const first = await ensureTopics({ kafka, definitions });
    const concurrent = await Promise.all([ensureTopics({ kafka, definitions }), ensureTopics({ kafka, definitions })]);
    const again = await ensureTopics({ kafka, definitions });

    expect(first).toEqual({ created: [topic, deadLetterTopicFor(topic)], existing: [] });
    for (const report of [...concurrent, again]) {
      expect(report).toEqual({ created: [], existing: [topic, deadLetterTopicFor(topic)] });
    }
    const main = await describeTopic(topic, ['min.insync.replicas']);
    expect(main).toEqual({
      partitions: 4,
      replicas: 1,
      configs: { 'min.insync.replicas': { value: '1', isDefault: false } },
    });
    const dlq = await describeTopic(deadLetterTopicFor(topic), ['min.insync.replicas', 'retention.ms']);
    expect(dlq).toEqual({
      partitions: 4,
      replicas: 1,
      configs: {
        'min.insync.replicas': { value: '1', isDefault: false },
        'retention.ms': { value: String(28 * 24 * 3600 * 1000), isDefault: false },
      },
    });
  });

  test('When two processes ensure new topics at the same moment, then both succeed and the topics exist once', async () => {
    const topic = uniqueName('ensure-race');
    const definitions = topicDefinitions({ topic });

    const reports = await Promise.all([ensureTopics({ kafka, definitions }), ensureTopics({ kafka, definitions })]);

    expect(reports.flatMap((report) => report.created).length).toBeGreaterThanOrEqual(2);
    expect((await describeTopic(topic, [])).partitions).toBe(3);
  });

  test('When existing topics have fewer partitions or another config than the definition, then ensureTopics fails with kafka.topic_mismatch naming each difference and changes nothing', async () => {
    const topic = uniqueName('ensure-drift');
    await admin.createTopics({
      topics: [
        { topic, numPartitions: 1, replicationFactor: 1 },
        {
          topic: deadLetterTopicFor(topic),
          numPartitions: 3,
          configEntries: [{ name: 'retention.ms', value: '60000' }],
        },
      ],
      waitForLeaders: true,
    });

    const error = await ensureTopics({ kafka, definitions: topicDefinitions({ topic }) }).catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'kafka.topic_mismatch', retriable: false });
    const { problems } = (error as AppError).details as { problems: string[] };
    expect(problems).toEqual([
      `${topic} has 1 partitions, the definition needs at least 3 (add partitions; Kafka cannot remove them)`,
      `${deadLetterTopicFor(topic)} has retention.ms=60000, the definition says 2419200000 (alter the topic config)`,
    ]);
    expect((error as Error).message).toContain(problems[0]);
    expect((await describeTopic(topic, [])).partitions).toBe(1);
    expect((await describeTopic(deadLetterTopicFor(topic), ['retention.ms'])).configs['retention.ms'].value).toBe(
      '60000',
    );
  });

  test('When the definition asks for more in-sync replicas than copies, then it is refused before any topic is touched', () => {
    expect(() => topicDefinitions({ topic: 'x', replicationFactor: 1, minInsyncReplicas: 2 })).toThrow(
      expect.objectContaining({ code: 'kafka.topic_definition_invalid' }),
    );
  });
});
