import { randomBytes } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClients, topicDefinitions } from '@outbox/shared';
import { ensureTables, ensureTopics } from '@outbox/local-stack';

/** A name no other test uses: tests share servers, never tables, topics or groups. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Endpoints of the servers globalSetup started (or found running). */
export function testEndpoints() {
  const dynamodb = process.env.DYNAMODB_ENDPOINT;
  const brokers = process.env.KAFKA_BROKERS;
  const kinesis = process.env.KINESIS_ENDPOINT;
  if (!dynamodb || !brokers || !kinesis)
    throw new Error('The local stack is not up: run the tests through jest globalSetup');
  return { dynamodb, kafkaBrokers: brokers.split(','), kinesis, region: 'us-east-1' };
}

/** The tables of one test, created from the Copilot templates under a unique prefix. */
export interface TestTables {
  orders: string;
  outbox: string;
  relayState: string;
  notifications: string;
}

/** Creates every table under a fresh prefix and returns their names. */
export async function createTestTables(): Promise<TestTables> {
  const { dynamodb, region } = testEndpoints();
  const { client } = createDynamoDbClients({ region, endpoint: dynamodb });
  try {
    const names = await ensureTables({ client, tablePrefix: `${uniqueName('t')}-` });
    return {
      orders: names.Orders,
      outbox: names.OrderOutbox,
      relayState: names.RelayState,
      notifications: names.Notifications,
    };
  } finally {
    client.destroy();
  }
}

/** Creates a fresh events topic (and its `.dlq`) from the one topic definition. */
export async function createTestTopic(): Promise<string> {
  const topic = uniqueName('orders');
  await ensureTopics({ brokers: testEndpoints().kafkaBrokers, definitions: topicDefinitions({ topic }) });
  return topic;
}

/** The environment all three services share to run as one pipeline on a test's tables and topic. */
export function pipelineEnv(tables: TestTables, topic: string): Record<string, string> {
  const { dynamodb, kafkaBrokers } = testEndpoints();
  return {
    DYNAMODB_ENDPOINT: dynamodb,
    KAFKA_BROKERS: kafkaBrokers.join(','),
    ORDERS_TABLE: tables.orders,
    OUTBOX_TABLE: tables.outbox,
    RELAY_STATE_TABLE: tables.relayState,
    NOTIFICATIONS_TABLE: tables.notifications,
    ORDER_EVENTS_TOPIC: topic,
    NOTIFIER_GROUP_ID: uniqueName('notifier'),
  };
}

/** Every item of a table (test tables are small). */
export async function scanAll(table: string): Promise<Record<string, unknown>[]> {
  const { dynamodb, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  try {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  } finally {
    client.destroy();
  }
}
