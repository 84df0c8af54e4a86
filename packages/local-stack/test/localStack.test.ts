import { DescribeTableCommand, DescribeTimeToLiveCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { topicDefinitions } from '@outbox/shared';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { ensureTables } from '../src/ensureTables';
import { ensureTopics } from '../src/ensureTopics';
import { localDynamoDbClient } from '../src/localDynamoDbClient';
import { startLocalStack, type LocalStack } from '../src/LocalStack';
import { portIsOpen } from '../src/portIsOpen';
import { isAlive, javaChildrenOf } from './processes';

const PORTS = { dynamodbPort: 18000, kafkaPort: 19092, kafkaControllerPort: 19093, kinesisPort: 14567 };

/** Resolves true when nothing listens and the port can be bound again. */
function canListenOn(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function kafka(brokers: string[]): Kafka {
  return new Kafka({ clientId: `local-stack-test-${randomUUID()}`, brokers, logLevel: logLevel.NOTHING });
}

describe('local stack on non-default ports', () => {
  let stack: LocalStack;
  let dynamodb: DynamoDBClient;
  const prefix = `it-${randomUUID().slice(0, 8)}-`;
  const topic = `local-stack-test-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    // The first run also fetches the Kafka jars with Maven.
    stack = await startLocalStack(PORTS);
    dynamodb = localDynamoDbClient(stack.endpoints.dynamodb);
  }, 600_000);

  afterAll(async () => {
    dynamodb?.destroy();
    await stack?.stop();
  }, 60_000);

  test('When the stack starts, then it reports endpoints on the chosen ports and owns every server', () => {
    expect(stack.endpoints).toEqual({
      dynamodb: 'http://127.0.0.1:18000',
      kafkaBrokers: ['127.0.0.1:19092'],
      kinesis: 'http://127.0.0.1:14567',
    });
    expect([stack.dynamodb.reused, stack.kafka.reused, stack.kinesis.reused]).toEqual([false, false, false]);
  });

  test('When tables are ensured with a prefix, then OrderOutbox has a NEW_IMAGE stream and TTL on expiresAt', async () => {
    const names = await ensureTables({ client: dynamodb, tablePrefix: prefix });

    expect(names).toEqual({
      Orders: `${prefix}Orders`,
      OrderOutbox: `${prefix}OrderOutbox`,
      RelayState: `${prefix}RelayState`,
      Notifications: `${prefix}Notifications`,
    });
    const outbox = (await dynamodb.send(new DescribeTableCommand({ TableName: names.OrderOutbox }))).Table!;
    expect(outbox.TableStatus).toBe('ACTIVE');
    expect(outbox.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
    expect(outbox.LatestStreamArn).toEqual(expect.any(String));
    const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: names.OrderOutbox }));
    expect(ttl.TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    const orders = (await dynamodb.send(new DescribeTableCommand({ TableName: names.Orders }))).Table!;
    expect(orders.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual(['byCustomer']);
  });

  test('When tables are ensured again and with explicit names, then existing tables are kept and the names are used', async () => {
    const before = (await dynamodb.send(new DescribeTableCommand({ TableName: `${prefix}Orders` }))).Table!;

    const names = await ensureTables({
      client: dynamodb,
      tablePrefix: prefix,
      tableNames: { RelayState: `${prefix}custom-relay-state` },
    });

    expect(names.Orders).toBe(`${prefix}Orders`);
    expect(names.RelayState).toBe(`${prefix}custom-relay-state`);
    const after = (await dynamodb.send(new DescribeTableCommand({ TableName: `${prefix}Orders` }))).Table!;
    expect(after.CreationDateTime).toEqual(before.CreationDateTime);
    const custom = await dynamodb.send(new DescribeTableCommand({ TableName: `${prefix}custom-relay-state` }));
    expect(custom.Table?.TableStatus).toBe('ACTIVE');
  });

  test('When topics are ensured, then the topic and its dead-letter topic exist with 3 partitions that have leaders', async () => {
    const created = await ensureTopics({
      brokers: stack.endpoints.kafkaBrokers,
      definitions: topicDefinitions({ topic }),
    });
    const again = await ensureTopics({
      brokers: stack.endpoints.kafkaBrokers,
      definitions: topicDefinitions({ topic }),
    });

    expect(created).toEqual([topic, `${topic}.dlq`]);
    expect(again).toEqual([]);
    const admin = kafka(stack.endpoints.kafkaBrokers).admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic, `${topic}.dlq`] });
      for (const described of metadata.topics) {
        expect(described.partitions).toHaveLength(3);
        expect(described.partitions.every((partition) => partition.leader === 1)).toBe(true);
      }
    } finally {
      await admin.disconnect();
    }
  });

  test('When Kafka is stopped and started again, then the topics and the records written before survive', async () => {
    const client = kafka(stack.endpoints.kafkaBrokers);
    const producer = client.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'order-1', value: 'before restart' }] });
    await producer.disconnect();
    const oldPid = stack.kafka.pid;

    await stack.kafka.stop();
    expect(await portIsOpen(PORTS.kafkaPort)).toBe(false);
    await stack.kafka.start();

    expect(stack.kafka.pid).not.toBe(oldPid);
    const admin = client.admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).toEqual(expect.arrayContaining([topic, `${topic}.dlq`]));
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.reduce((sum, partition) => sum + Number(partition.high), 0)).toBe(1);
    } finally {
      await admin.disconnect();
    }
  }, 120_000);

  test('When a Kinesis client with the HTTP/1.1 handler creates a stream, then kinesalite lists it', async () => {
    const kinesis = new KinesisClient({
      endpoint: stack.endpoints.kinesis,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      requestHandler: new NodeHttpHandler(),
    });
    const streamName = `local-stack-test-${randomUUID().slice(0, 8)}`;
    try {
      await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 }));
      const listed = await kinesis.send(new ListStreamsCommand({}));
      expect(listed.StreamNames).toContain(streamName);
    } finally {
      kinesis.destroy();
    }
  });

  test('When a second stack starts on the same ports, then it reuses the servers and its stop leaves them running', async () => {
    const second = await startLocalStack(PORTS);

    expect([second.dynamodb.reused, second.kafka.reused, second.kinesis.reused]).toEqual([true, true, true]);
    expect(second.kafka.pid).toBeUndefined();
    await second.stop();
    for (const port of [PORTS.dynamodbPort, PORTS.kafkaPort, PORTS.kinesisPort]) {
      expect(await portIsOpen(port)).toBe(true);
    }
  }, 60_000);

  test('When the stack stops, then every port is free and no Java child process remains', async () => {
    const pids = [stack.dynamodb.pid, stack.kafka.pid, stack.kinesis.pid];
    expect(pids.every((pid) => typeof pid === 'number')).toBe(true);
    // Jest's own globalSetup may run servers as children of this process too: look at ours only.
    const ownJava = () =>
      javaChildrenOf(process.pid).filter(
        (info) =>
          info.command.includes(`-port ${PORTS.dynamodbPort}`) || info.command.includes(`kafka-${PORTS.kafkaPort}`),
      );
    expect(ownJava()).toHaveLength(2);

    await stack.stop();
    await stack.stop();

    for (const port of Object.values(PORTS)) {
      expect(await portIsOpen(port)).toBe(false);
      expect(await canListenOn(port)).toBe(true);
    }
    expect(pids.filter((pid) => isAlive(pid!))).toEqual([]);
    expect(ownJava()).toEqual([]);
  }, 60_000);
});
