import { hostname } from 'node:os';
import { z } from 'zod';
import {
  TOPIC_MAX_MESSAGE_BYTES,
  checkKafkaSettings,
  commonSettings,
  kafkaConfigFromSettings,
  kafkaSettings,
  optionalSetting,
  parseConfig,
  portSetting,
} from '@outbox/shared';
import { MAX_PUBLISH_LANES } from './publish/KafkaPublisher';

/** The relay's settings (each described in the schema: the README's table is generated from it). */
export const configSchema = z
  .object({
    ...commonSettings,
    ...kafkaSettings,
    PORT: portSetting(9101).describe('Port of `/healthz`, `/readyz` and `/metrics`.'),
    RELAY_STATE_TABLE: z
      .string()
      .min(3)
      .default('RelayState')
      .describe("Table holding the relay's lease and per-shard checkpoints."),
    DYNAMODB_STREAMS_ENDPOINT: optionalSetting(z.url()).meta({
      description: 'Endpoint override for DynamoDB Streams; `DYNAMODB_ENDPOINT` when unset.',
      defaultText: '`DYNAMODB_ENDPOINT`',
    }),
    RELAY_ID: z
      .string()
      .min(1)
      .default(`${hostname()}-${process.pid}`)
      .meta({ description: "This instance's name in the lease and logs.", defaultText: '`<hostname>-<pid>`' }),
    POLL_IDLE_MAX_MS: z.coerce
      .number()
      .int()
      .min(10)
      .max(5000)
      .default(250)
      .describe('Longest pause between polls of an idle shard, in ms (busy shards are re-polled at once).'),
    BATCH_SIZE: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(500)
      .describe(
        'Records asked for per GetRecords call (DynamoDB Streams allows up to 1000). Larger batches cost less CPU per record, but memory holds one per shard and those read ahead (together at most `RELAY_MAX_RECORDS_IN_FLIGHT` records), and, on a 0.25 vCPU task, a batch of 1000 keeps the event loop busy long enough to delay lease renewals (the bench saw shard leases lost).',
      ),
    RELAY_MAX_RECORDS_IN_FLIGHT: z.coerce
      .number()
      .int()
      .min(50)
      .max(1000000)
      .default(3000)
      .describe(
        'Records an instance holds at once across the shards it leads (read, or read ahead, and not yet acknowledged by Kafka): each read asks for `BATCH_SIZE`, or this shared evenly among those batches when that is less (at least 50 a read). Without a bound memory grows with the shards an instance leads (all of them once its peers are gone). The default leaves `BATCH_SIZE` (500) whole up to 3 shards with read-ahead; one relay draining 8 Kinesis shards reads 250 at a time and peaked at 149–155 MB RSS in the bench instead of 172–178 MB, for about 10 % fewer events/s.',
      ),
    LEASE_DURATION_MS: z.coerce
      .number()
      .int()
      .min(200)
      .max(120000)
      .default(2000)
      .describe(
        "Another instance takes a lease (a shard's, or the coordinator's) once its counter has not moved for this long, in ms; the holder stops acting at 80 % of it. Keep it well above the event loop's worst lag: on a 0.25 vCPU task draining a backlog that reached 1–2 s, so the Copilot manifest sets 6000.",
      ),
    LEASE_RENEW_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(50)
      .max(60000)
      .default(500)
      .describe('How often held leases are renewed, in ms (at most half the duration).'),
    LEASE_SCAN_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(50)
      .max(60000)
      .default(250)
      .describe(
        'How often the lease table is scanned for free, expired or stealable shard leases, in ms (a read; the heartbeat write goes with it; at most half the duration).',
      ),
    LEASE_STEAL_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(100)
      .max(600000)
      .default(2000)
      .describe('At most one shard lease is stolen from a busier instance per this period, in ms (no flapping).'),
    RELAY_CHECKPOINT_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(60000)
      .default(1000)
      .describe(
        "A shard's checkpoint is stored at most this often while records flow, in ms (and always on shard end, handoff and stop); a crash replays at most this much (duplicates, never loss).",
      ),
    RELAY_CHECKPOINT_MAX_RECORDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(1000)
      .describe(
        '... or once this many records were read from the shard since the last stored checkpoint, whichever comes first.',
      ),
    RELAY_STALL_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(1000)
      .max(3_600_000)
      .default(60_000)
      .describe(
        'A leader whose shard (or shard listing) fails, with records pending, for this long logs why, releases the lease and turns `/healthz` unhealthy so it is replaced, in ms.',
      ),
    SHARD_REFRESH_MS: z.coerce
      .number()
      .int()
      .min(100)
      .max(300000)
      .default(10000)
      .describe('How often the shard list is refreshed to find new shards, in ms.'),
    PUBLISH_RETRY_INITIAL_MS: z.coerce
      .number()
      .int()
      .min(10)
      .max(60000)
      .default(200)
      .describe('First pause after a failed round (Kafka or DynamoDB away), in ms; doubles per failure.'),
    PUBLISH_RETRY_MAX_MS: z.coerce
      .number()
      .int()
      .min(10)
      .max(300000)
      .default(5000)
      .describe('Longest pause between retries of a failed round, in ms.'),
    RELAY_READ_AHEAD: z
      .enum(['true', 'false', ''])
      .default('true')
      .transform((value) => value !== 'false')
      .describe(
        'Per shard, read the next batch while the current one is published (`true`/`false`; at most one batch read ahead per shard, none at its tip or end).',
      ),
    RELAY_READ_AHEAD_SHARDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(10000)
      .default(4)
      .describe(
        'How many shards may have a batch read ahead at once; the others read on demand. Each costs a batch of memory, so without a bound memory grows with the shards an instance leads (all of them once its peers are gone); an instance leading many shards is busy anyway and gains little from reading ahead.',
      ),
    RELAY_SOURCE: z
      .enum(['dynamodb-streams', 'kinesis'])
      .default('dynamodb-streams')
      .describe(
        "Where change records come from: the outbox table's DynamoDB stream, or a Kinesis data stream the table feeds.",
      ),
    KINESIS_STREAM_NAME: optionalSetting(z.string().min(1)).describe(
      'Kinesis data stream name (required when RELAY_SOURCE=kinesis).',
    ),
    KINESIS_ENDPOINT: optionalSetting(z.url()).describe(
      'Endpoint override for Kinesis (kinesalite locally); unset in AWS.',
    ),
    BACKFILL_OVERLAP_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(86_400_000)
      .default(300_000)
      .describe(
        'A backfill starts this long before the oldest server-side position among unfinished shards, in ms (writers stamp occurredAt before commit).',
      ),
    BACKFILL_LOOKBACK_HOURS: z.coerce
      .number()
      .int()
      .min(1)
      .max(24 * 400)
      .default(192)
      .describe(
        'How far back a backfill with no known start reads the outbox table, in hours (longer than the outbox retention).',
      ),
    BACKFILL_LOOKAHEAD_HOURS: z.coerce
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(24)
      .describe(
        "How far ahead of now a backfill reads the outbox table's time index, in hours (writers' clocks may run ahead).",
      ),
    KAFKA_MAX_REQUEST_BYTES: z.coerce
      .number()
      .int()
      .min(16_384)
      .default(900_000)
      .describe(
        "Most bytes one Kafka produce request may carry; batches are split to stay under it, and a single event larger than that is dead-lettered (`too_large`). Below the topic's `max.message.bytes`.",
      ),
    RELAY_PUBLISH_LANES: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_PUBLISH_LANES)
      .default(MAX_PUBLISH_LANES)
      .describe(
        "Without KAFKA_TRANSACTIONAL_ID: idempotent producers sending a shard's batch at once, shared by the shards led (each batch uses ⌈lanes ÷ shards led⌉); an aggregate takes one producer per batch, batches are acknowledged in turn.",
      ),
    KAFKA_TRANSACTIONAL_ID: optionalSetting(z.string().min(1)).describe(
      "When set, every batch is a Kafka transaction; the transactional id is `<this>-<shardId>` per shard (and `<this>-stream` for the coordinator's backfills), the same on every instance, so a shard's new owner fences the old one's producer.",
    ),
  })
  .refine((env) => env.LEASE_RENEW_INTERVAL_MS * 2 <= env.LEASE_DURATION_MS, {
    message: 'must be at most half of LEASE_DURATION_MS',
    path: ['LEASE_RENEW_INTERVAL_MS'],
  })
  .refine((env) => env.LEASE_SCAN_INTERVAL_MS * 2 <= env.LEASE_DURATION_MS, {
    message: 'must be at most half of LEASE_DURATION_MS',
    path: ['LEASE_SCAN_INTERVAL_MS'],
  })
  .refine((env) => env.RELAY_SOURCE !== 'kinesis' || env.KINESIS_STREAM_NAME !== undefined, {
    message: 'is required when RELAY_SOURCE=kinesis',
    path: ['KINESIS_STREAM_NAME'],
  })
  .refine((env) => env.PUBLISH_RETRY_INITIAL_MS <= env.PUBLISH_RETRY_MAX_MS, {
    message: 'must not exceed PUBLISH_RETRY_MAX_MS',
    path: ['PUBLISH_RETRY_INITIAL_MS'],
  })
  .superRefine(checkKafkaSettings)
  .refine((env) => env.PUBLISH_RETRY_MAX_MS < env.RELAY_STALL_TIMEOUT_MS, {
    message: 'must be below RELAY_STALL_TIMEOUT_MS',
    path: ['PUBLISH_RETRY_MAX_MS'],
  })
  .refine((env) => env.KAFKA_MAX_REQUEST_BYTES < TOPIC_MAX_MESSAGE_BYTES, {
    message: `must be below the topics' max.message.bytes (${TOPIC_MAX_MESSAGE_BYTES})`,
    path: ['KAFKA_MAX_REQUEST_BYTES'],
  })
  .transform((env) => ({
    service: 'outbox-relay' as const,
    // Every remote call ends well within the lease: a hung socket fails the call, the lease is
    // renewed in time, and the stall watchdog sees a failure instead of silence.
    timeouts: {
      awsConnectionMs: Math.min(2000, Math.max(1000, Math.floor(env.LEASE_DURATION_MS / 2))),
      awsRequestMs: Math.max(5000, Math.floor(env.LEASE_DURATION_MS * 0.75)),
      // Lease writes have their own client: a renewal that hangs fails within half the lease, so
      // the next one still comes before the holder's validity (80 % of the lease) runs out.
      leaseConnectionMs: Math.min(1000, Math.floor(env.LEASE_DURATION_MS / 2)),
      leaseRequestMs: Math.floor(env.LEASE_DURATION_MS / 2),
      // Publishing is fenced by the lease check before each batch (and Kafka's epoch in
      // transactional mode), not by the request timeout: a loaded broker gets a few seconds.
      kafkaConnectionMs: Math.min(3000, Math.max(1000, Math.floor(env.LEASE_DURATION_MS / 2))),
      kafkaRequestMs: Math.max(5000, Math.floor(env.LEASE_DURATION_MS * 0.75)),
    },
    stallTimeoutMs: env.RELAY_STALL_TIMEOUT_MS,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    relayId: env.RELAY_ID,
    aws: {
      region: env.AWS_REGION,
      dynamodbEndpoint: env.DYNAMODB_ENDPOINT,
      streamsEndpoint: env.DYNAMODB_STREAMS_ENDPOINT ?? env.DYNAMODB_ENDPOINT,
      kinesisEndpoint: env.KINESIS_ENDPOINT,
    },
    source:
      env.RELAY_SOURCE === 'kinesis'
        ? { kind: 'kinesis' as const, streamName: env.KINESIS_STREAM_NAME as string }
        : { kind: 'dynamodb-streams' as const },
    tables: { outbox: env.OUTBOX_TABLE, relayState: env.RELAY_STATE_TABLE },
    kafka: {
      ...kafkaConfigFromSettings(env),
      clientId: env.KAFKA_CLIENT_ID ?? 'outbox-relay',
      transactionalId: env.KAFKA_TRANSACTIONAL_ID,
      maxRequestBytes: env.KAFKA_MAX_REQUEST_BYTES,
      publishLanes: env.RELAY_PUBLISH_LANES,
    },
    pollIdleMaxMs: env.POLL_IDLE_MAX_MS,
    readAhead: env.RELAY_READ_AHEAD,
    readAheadShards: env.RELAY_READ_AHEAD_SHARDS,
    batchSize: env.BATCH_SIZE,
    maxRecordsInFlight: env.RELAY_MAX_RECORDS_IN_FLIGHT,
    lease: {
      durationMs: env.LEASE_DURATION_MS,
      renewIntervalMs: env.LEASE_RENEW_INTERVAL_MS,
      scanIntervalMs: env.LEASE_SCAN_INTERVAL_MS,
      stealIntervalMs: env.LEASE_STEAL_INTERVAL_MS,
    },
    checkpoint: { intervalMs: env.RELAY_CHECKPOINT_INTERVAL_MS, maxRecords: env.RELAY_CHECKPOINT_MAX_RECORDS },
    shardRefreshMs: env.SHARD_REFRESH_MS,
    backfill: {
      overlapMs: env.BACKFILL_OVERLAP_MS,
      lookBackMs: env.BACKFILL_LOOKBACK_HOURS * 3_600_000,
      lookAheadMs: env.BACKFILL_LOOKAHEAD_HOURS * 3_600_000,
    },
    publishRetry: { initialMs: env.PUBLISH_RETRY_INITIAL_MS, maxMs: env.PUBLISH_RETRY_MAX_MS },
    otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
  }));

/** The outbox-relay's validated, frozen configuration. */
export type RelayConfig = Readonly<z.infer<typeof configSchema>>;

/** Reads the relay configuration from environment variables; lists every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  return parseConfig(configSchema, env);
}
