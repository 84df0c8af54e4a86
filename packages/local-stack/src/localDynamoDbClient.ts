import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * A DynamoDB client for a local endpoint: dummy credentials (DynamoDB Local accepts any) and a
 * region, so it never looks for real AWS configuration.
 */
export function localDynamoDbClient(endpoint: string, region = process.env.AWS_REGION ?? 'us-east-1'): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}
