/** The fewest records a read asks for, however many shards share the budget. */
export const MIN_READ_LIMIT = 50;

/**
 * Records one GetRecords call asks for: `batchSize`, or the instance's budget shared evenly among
 * the batches it may hold when that is less, but never fewer than {@link MIN_READ_LIMIT} (nor more
 * than `batchSize`). Each shard it leads holds one batch from its read until Kafka acknowledges
 * it, and up to `readAheadShards` of them one more read ahead; so memory stays near `budget`
 * records however many shards an instance leads: all of them, once its peers are gone, where a
 * batch each would grow with the stream.
 */
export function readLimit(batchSize: number, budget: number, shardsLed: number, readAheadShards: number): number {
  const shards = Math.max(1, shardsLed);
  const share = Math.floor(budget / (shards + Math.min(shards, readAheadShards)));
  return Math.min(batchSize, Math.max(MIN_READ_LIMIT, share));
}
