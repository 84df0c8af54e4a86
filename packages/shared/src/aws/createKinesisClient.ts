import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsClientOptions } from './AwsClientOptions';
import { localCredentials } from './localCredentials';

/**
 * A Kinesis client. Over an endpoint override it speaks HTTP/1.1, since kinesalite fails the
 * SDK's default HTTP/2 with a protocol error.
 */
export function createKinesisClient(options: AwsClientOptions): KinesisClient {
  return new KinesisClient({
    region: options.region,
    endpoint: options.endpoint,
    credentials: localCredentials(options.endpoint),
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: options.endpoint ? new NodeHttpHandler() : undefined,
  });
}
