import { CreateStreamCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KafkaServer } from '../src/KafkaServer';
import { KinesaliteServer } from '../src/KinesaliteServer';

/** A free TCP port on loopback, picked by the kernel. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A TCP forwarder from a free port to `targetPort` that counts the connections it carried. */
async function forwarder(
  targetPort: number,
): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections += 1;
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('local servers with non-default options', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-options-'));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  test('When kinesalite starts with a shard limit of 12, then a 12-shard stream is created and a 13th shard is refused', async () => {
    const server = new KinesaliteServer({ port: await freePort(), dataDir, shardLimit: 12 });
    await server.start();
    const kinesis = new KinesisClient({
      endpoint: server.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      requestHandler: new NodeHttpHandler(),
    });
    try {
      await kinesis.send(new CreateStreamCommand({ StreamName: `limit-${randomUUID()}`, ShardCount: 12 }));
      await expect(
        kinesis.send(new CreateStreamCommand({ StreamName: `limit-${randomUUID()}`, ShardCount: 1 })),
      ).rejects.toMatchObject({ name: 'LimitExceededException' });
    } finally {
      kinesis.destroy();
      await server.stop();
    }
  }, 60_000);

  test('When Kafka advertises a forwarder port, then clients reach the broker only through the forwarder', async () => {
    const port = await freePort();
    const proxy = await forwarder(port);
    const server = new KafkaServer({ port, controllerPort: await freePort(), dataDir, advertisedPort: proxy.port });
    const kafka = new Kafka({
      clientId: `advertised-${randomUUID()}`,
      brokers: [`127.0.0.1:${proxy.port}`],
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    try {
      await server.start();
      await admin.connect();
      const { brokers } = await admin.describeCluster();
      expect(brokers.map((broker) => broker.port)).toEqual([proxy.port]);
      const topic = `advertised-${randomUUID()}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      const before = proxy.connections();
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'k', value: 'v' }] });
      await producer.disconnect();
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.map((offset) => offset.high)).toEqual(['1']);
      // The producer's connections (seed and partition leader) went through the forwarder too.
      expect(proxy.connections()).toBeGreaterThan(before);
    } finally {
      await admin.disconnect().catch(() => undefined);
      await server.stop();
      await proxy.close();
    }
  }, 180_000);
});
