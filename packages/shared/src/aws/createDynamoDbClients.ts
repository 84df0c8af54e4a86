import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsClientOptions } from './AwsClientOptions';
import { awsRequestHandler } from './awsRequestHandler';
import { localCredentials } from './localCredentials';

/** DynamoDB clients: the low-level one and a document client that drops undefined values. */
export function createDynamoDbClients(options: AwsClientOptions): {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
} {
  const client = new DynamoDBClient({
    region: options.region,
    endpoint: options.endpoint,
    credentials: localCredentials(options.endpoint),
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: awsRequestHandler(options),
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { client, doc };
}
