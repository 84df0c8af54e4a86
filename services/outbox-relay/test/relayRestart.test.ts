import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClients } from '@outbox/shared';
import { createTestTables, createTestTopic, readTopic, testEndpoints } from '@outbox/testkit';
import { relayTestConfig } from './support';
import { start } from '../src/start';

describe('relay restart', () => {
  test('When the relay restarts, then it resumes after its checkpoint and republishes nothing it had published', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const { dynamodb, region } = testEndpoints();
    const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
    const config = relayTestConfig({ tables, topic });
    const writeEvent = async () => {
      const aggregateId = randomUUID();
      await doc.send(
        new PutCommand({
          TableName: tables.outbox,
          Item: {
            eventId: randomUUID(),
            eventType: 'OrderCreated',
            schemaVersion: 1,
            aggregateType: 'Order',
            aggregateId,
            seq: 1,
            occurredAt: new Date().toISOString(),
            payload: { orderId: aggregateId },
            expiresAt: Math.floor(Date.now() / 1000) + 86400,
          },
        }),
      );
      return aggregateId;
    };
    const reader = await readTopic(topic);
    try {
      const first = [await writeEvent(), await writeEvent(), await writeEvent()];
      const relayA = await start(config);
      await reader.waitForCount(3);
      await relayA.stop();

      const relayB = await start(config);
      const fourth = await writeEvent();
      // Records of one shard are published in order: a republished old record would arrive before the fourth.
      await reader.waitForCount(4);
      await relayB.stop();

      const all = await reader.readToEnd();
      expect(all.map((r) => r.key).sort()).toEqual([...first, fourth].sort());
    } finally {
      await reader.stop();
      client.destroy();
    }
  });
});
