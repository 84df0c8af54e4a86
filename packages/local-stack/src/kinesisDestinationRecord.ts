import { randomUUID } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';

/**
 * The `PutRecords` entry DynamoDB's Kinesis streaming destination writes for an INSERT of `item`
 * (keyed by `keys`, partitioned by its aggregate id): what a relay with `RELAY_SOURCE=kinesis`
 * reads. Locally nothing streams a table into kinesalite, so tests and the bench write these.
 */
export function kinesisDestinationRecord(
  item: Record<string, unknown> & { aggregateId: string },
  keys: Record<string, unknown>,
  region = 'us-east-1',
): { Data: Uint8Array; PartitionKey: string } {
  const newImage = marshall(item, { removeUndefinedValues: true });
  const data = {
    awsRegion: region,
    eventID: randomUUID(),
    eventName: 'INSERT',
    userIdentity: null,
    recordFormat: 'application/json',
    tableName: 'OrderOutbox',
    dynamodb: {
      ApproximateCreationDateTime: Date.now(),
      Keys: marshall(keys),
      NewImage: newImage,
      SizeBytes: JSON.stringify(newImage).length,
      ApproximateCreationDateTimePrecision: 'MILLISECOND',
    },
    eventSource: 'aws:dynamodb',
  };
  return { Data: new TextEncoder().encode(JSON.stringify(data)), PartitionKey: item.aggregateId };
}
