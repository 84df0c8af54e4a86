/**
 * Local emulators accept any credentials; giving fixed ones keeps the default provider chain
 * from searching the machine. Without an endpoint the default AWS credential chain applies.
 */
export function localCredentials(endpoint: string | undefined) {
  if (!endpoint) return undefined;
  if (process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY) return undefined;
  return { accessKeyId: 'local', secretAccessKey: 'local' };
}
