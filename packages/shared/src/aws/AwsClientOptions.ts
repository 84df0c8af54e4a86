/** Options for the AWS client factories. */
export interface AwsClientOptions {
  region: string;
  /** Endpoint override for a local emulator; the real AWS endpoint when unset. */
  endpoint?: string;
  /** How many times the SDK retries a throttled or failed call. */
  maxAttempts?: number;
}
