import net from 'node:net';
import { AppError, createDynamoDbClients } from '@outbox/shared';
import { createTestTables, createTestTopic, readTopic, testEndpoints, waitFor } from '@outbox/testkit';
import { start, type RelayHandle } from '../src/start';
import type { RecordBatch } from '../src/source/StreamShard';
import { FakeSource, insert, relayOver } from './fakes';
import { relayTestConfig, writeOutboxEvent } from './support';

/** A TCP server that accepts connections and never answers: a hung endpoint. */
async function hungServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const healthz = async (port: number) => {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
};

describe('a self-healing leader', () => {
  test('When the leader’s DynamoDB Streams endpoint accepts connections and never answers, then its calls time out, after RELAY_STALL_TIMEOUT_MS it releases the lease and /healthz answers 503 with the reason, and a standby takes over and publishes', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const { dynamodb, region } = testEndpoints();
    const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
    const hung = await hungServer();
    const reader = await readTopic(topic);
    const lease = {
      LEASE_DURATION_MS: '4000',
      LEASE_RENEW_INTERVAL_MS: '500',
      RELAY_STALL_TIMEOUT_MS: '3000',
      PUBLISH_RETRY_MAX_MS: '500',
    };
    let stuck: RelayHandle | undefined;
    let standby: RelayHandle | undefined;
    try {
      const event = await writeOutboxEvent(doc, tables.outbox);
      stuck = await start(relayTestConfig({ tables, topic }, { ...lease, DYNAMODB_STREAMS_ENDPOINT: hung.url }));
      const leader = stuck;
      await waitFor(() => leader.isLeader(), { what: 'the stuck relay to lead' });
      standby = await start(relayTestConfig({ tables, topic }, lease));
      expect((await healthz(leader.port)).status).toBe(200);

      await waitFor(async () => (await healthz(leader.port)).status === 503, {
        what: 'the stuck leader to report unhealthy',
        timeoutMs: 20_000,
      });
      const { body } = await healthz(leader.port);
      expect(body.status).toBe('unhealthy');
      expect(body.reason).toMatch(/no progress|not come round|could not be listed/);
      const [record] = await reader.waitForCount(1, 20_000);
      expect(record?.key).toBe(event.aggregateId);
      expect(standby.isLeader()).toBe(true);
      expect(leader.isLeader()).toBe(false);
    } finally {
      await stuck?.stop();
      await standby?.stop();
      await reader.stop();
      await hung.close();
      client.destroy();
    }
  }, 60_000);

  test('When one shard’s records cannot be decoded (fake source: DynamoDB Local has one shard per stream), then the other shard’s events are still published, and once the stall timeout passed the relay names the failing shard and why', async () => {
    class OneUndecodableShard extends FakeSource {
      override async read(shardId: string, iterator: string, limit: number): Promise<RecordBatch> {
        if (shardId === 'shardId-bad')
          throw new AppError('source.undecodable', 'Number 1e+30 cannot be read without losing precision');
        return super.read(shardId, iterator, limit);
      }
    }
    const source = new OneUndecodableShard(
      [{ shardId: 'shardId-bad' }, { shardId: 'shardId-good' }],
      new Map([
        ['shardId-bad', [insert('shardId-bad', '1', 'a', 1)]],
        ['shardId-good', [1, 2, 3].map((seq) => insert('shardId-good', String(seq), 'b', seq))],
      ]),
    );
    const { relay, publisher } = relayOver(source, { stallTimeoutMs: 300 });
    relay.start();
    try {
      await waitFor(() => publisher.events.length === 3, { what: 'the good shard’s three events' });
      expect(publisher.events.map((e) => e.envelope.seq)).toEqual([1, 2, 3]);
      expect(relay.stallReason()).toBeUndefined();
      await waitFor(() => relay.stallReason() !== undefined, { what: 'a stall report' });
      expect(relay.stallReason()).toMatch(/shard shardId-bad made no progress .*losing precision/);
    } finally {
      await relay.stop();
    }
  });
});
