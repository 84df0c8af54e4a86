import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClients } from '@outbox/shared';
import { createTestTables, createTestTopic, testEndpoints, waitFor } from '@outbox/testkit';
import { start, type RelayHandle } from '../src/start';
import { scrape, relayTestConfig, writeOutboxEvent } from './support';

describe('relay lag series follow the lease', () => {
  const { dynamodb, region } = testEndpoints();
  const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
  const relays: RelayHandle[] = [];
  afterAll(async () => {
    await Promise.all(relays.map((relay) => relay.stop()));
    client.destroy();
  });

  test('When one relay leads and another stands by, then only the leader reports per-shard lag (0 once a read at the tip found nothing) and its last progress; when the lease is taken from it, its lag series are removed', async () => {
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const settings = { LEASE_DURATION_MS: '3000', LEASE_RENEW_INTERVAL_MS: '300', POLL_IDLE_MAX_MS: '50' };
    const first = await start(relayTestConfig({ tables, topic }, settings));
    relays.push(first);
    await waitFor(() => first.shardsOwned() === 1, { timeoutMs: 15000, what: 'the first relay to lead the shard' });
    const second = await start(relayTestConfig({ tables, topic }, settings));
    relays.push(second);

    const before = Date.now();
    await writeOutboxEvent(doc, tables.outbox, { seq: 1 });
    await waitFor(async () => (await scrape(first.port, 'relay_records_published_total')) === 1, {
      timeoutMs: 30000,
      what: 'the event published',
    });
    await waitFor(async () => (await scrape(first.port, 'relay_shard_lag_seconds')) === 0, {
      timeoutMs: 10000,
      what: "the leader's lag at 0 after a read at the tip",
    });
    expect((await scrape(first.port, 'relay_last_progress_timestamp_seconds')) ?? 0).toBeGreaterThanOrEqual(
      before / 1000,
    );
    expect(second.shardsOwned()).toBe(0);
    expect(await scrape(second.port, 'relay_shard_lag_seconds')).toBeUndefined();
    expect(await scrape(second.port, 'relay_last_progress_timestamp_seconds')).toBe(0);

    // Another owner takes the shard's lease: the leader's next renewal is refused and it lets the shard go.
    const { Items: leases } = await doc.send(
      new ScanCommand({
        TableName: tables.relayState,
        FilterExpression: 'begins_with(sk, :shard)',
        ExpressionAttributeValues: { ':shard': 'SHARD#' },
      }),
    );
    expect(leases).toHaveLength(1);
    await doc.send(
      new UpdateCommand({
        TableName: tables.relayState,
        Key: { pk: leases?.[0]?.pk, sk: leases?.[0]?.sk },
        UpdateExpression: 'SET #owner = :intruder, #counter = #counter + :one',
        ExpressionAttributeNames: { '#owner': 'leaseOwner', '#counter': 'leaseCounter' },
        ExpressionAttributeValues: { ':intruder': 'intruder', ':one': 1 },
      }),
    );
    await waitFor(
      async () =>
        (await scrape(first.port, 'relay_shards_owned')) === 0 &&
        (await scrape(first.port, 'relay_shard_lag_seconds')) === undefined,
      { timeoutMs: 2500, what: 'the deposed owner to drop its lag series' },
    );
    expect(await scrape(second.port, 'relay_shard_lag_seconds')).toBeUndefined();

    // The intruder never renews: one of the two takes over and reports lag again; the other none.
    await writeOutboxEvent(doc, tables.outbox, { seq: 2 });
    await waitFor(
      async () =>
        ((await scrape(first.port, 'relay_records_published_total')) ?? 0) +
          ((await scrape(second.port, 'relay_records_published_total')) ?? 0) >=
        2,
      { timeoutMs: 30000, what: 'the second event published by the new leader' },
    );
    const [leader, standby] = first.shardsOwned() > 0 ? [first, second] : [second, first];
    await waitFor(async () => (await scrape(leader.port, 'relay_shard_lag_seconds')) === 0, {
      timeoutMs: 10000,
      what: "the new leader's lag at 0",
    });
    expect(await scrape(standby.port, 'relay_shard_lag_seconds')).toBeUndefined();
  }, 90000);
});
