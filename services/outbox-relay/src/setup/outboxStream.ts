import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AppError } from '@outbox/shared';

/** Stream view types that carry the new item, which is the event. */
const READABLE_VIEW_TYPES = ['NEW_IMAGE', 'NEW_AND_OLD_IMAGES'];

/** The outbox table's latest stream and whether it is enabled, its view type checked. */
async function describeOutboxStream(
  client: DynamoDBClient,
  tableName: string,
): Promise<{ arn?: string; enabled: boolean }> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const spec = Table?.StreamSpecification;
  if (spec?.StreamEnabled && !READABLE_VIEW_TYPES.includes(spec.StreamViewType ?? '')) {
    throw new AppError(
      'relay.stream_view_type',
      `Table ${tableName} has stream view type ${spec.StreamViewType ?? 'unknown'}; the relay needs NEW_IMAGE (or NEW_AND_OLD_IMAGES): re-enable the stream with that view type`,
      { retriable: false },
    );
  }
  return { arn: Table?.LatestStreamArn, enabled: spec?.StreamEnabled === true };
}

/**
 * The outbox table's latest stream ARN (enabled or not; `undefined` when it never had one).
 * Throws a non-retriable `relay.stream_view_type` when the enabled stream does not carry new
 * images: every INSERT would come without its event.
 */
export async function currentOutboxStream(client: DynamoDBClient, tableName: string): Promise<string | undefined> {
  return (await describeOutboxStream(client, tableName)).arn;
}

/**
 * The outbox table's enabled stream, its view type checked. A table without an enabled stream
 * is an outage to wait out (`relay.no_stream`, retriable); a wrong view type is not.
 */
export async function enabledOutboxStream(client: DynamoDBClient, tableName: string): Promise<string> {
  const { arn, enabled } = await describeOutboxStream(client, tableName);
  if (!arn || !enabled) {
    throw new AppError('relay.no_stream', `Table ${tableName} has no stream enabled; enable NEW_IMAGE streams on it`, {
      retriable: true,
    });
  }
  return arn;
}
