import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { AwsClientOptions } from './AwsClientOptions';
import { awsRequestHandler } from './awsRequestHandler';
import { localCredentials } from './localCredentials';

/**
 * A Kinesis client. It speaks HTTP/1.1 (kinesalite fails the SDK's default HTTP/2 with a protocol
 * error, and GetRecords needs no HTTP/2), with the shared connection and request timeouts.
 */
export function createKinesisClient(options: AwsClientOptions): KinesisClient {
  return new KinesisClient({
    region: options.region,
    endpoint: options.endpoint,
    credentials: localCredentials(options.endpoint),
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: awsRequestHandler(options),
  });
}
