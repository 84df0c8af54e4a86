/** Options for the AWS client factories. */
export interface AwsClientOptions {
  region: string;
  /** Endpoint override for a local emulator; the real AWS endpoint when unset. */
  endpoint?: string;
  /** How many times the SDK retries a throttled or failed call. */
  maxAttempts?: number;
  /** Longest wait for a TCP connection, in ms (default 2000). */
  connectionTimeoutMs?: number;
  /**
   * Longest wait for a whole request and its response, in ms (default 5000): a socket that
   * accepts and never answers fails the call instead of hanging it. Keep it below any lease.
   */
  requestTimeoutMs?: number;
}
