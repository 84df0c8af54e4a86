import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsClientOptions } from './AwsClientOptions';

/** Default connection timeout of every AWS client, in ms. */
export const DEFAULT_AWS_CONNECTION_TIMEOUT_MS = 2000;
/** Default request timeout of every AWS client, in ms. */
export const DEFAULT_AWS_REQUEST_TIMEOUT_MS = 5000;

/**
 * The HTTP/1.1 handler every AWS client uses: bounded connection and request times, so a hung
 * endpoint fails a call (which the SDK may retry) instead of stalling its caller for good.
 * `throwOnRequestTimeout` matters: without it the SDK only logs a breached request timeout.
 */
export function awsRequestHandler(options: Pick<AwsClientOptions, 'connectionTimeoutMs' | 'requestTimeoutMs'>) {
  return new NodeHttpHandler({
    connectionTimeout: options.connectionTimeoutMs ?? DEFAULT_AWS_CONNECTION_TIMEOUT_MS,
    requestTimeout: options.requestTimeoutMs ?? DEFAULT_AWS_REQUEST_TIMEOUT_MS,
    throwOnRequestTimeout: true,
  });
}
