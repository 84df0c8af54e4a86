import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { AwsClientOptions } from './AwsClientOptions';
import { awsRequestHandler } from './awsRequestHandler';
import { localCredentials } from './localCredentials';

/** A DynamoDB Streams client. */
export function createDynamoDbStreamsClient(options: AwsClientOptions): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient({
    region: options.region,
    endpoint: options.endpoint,
    credentials: localCredentials(options.endpoint),
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: awsRequestHandler(options),
  });
}
