import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { generateAuthTokenFromCredentialsProvider } from 'aws-msk-iam-sasl-signer-js';
import type { OauthbearerProviderResponse } from 'kafkajs';
import { AppError } from '../errors/AppError';
import type { Logger } from '../observability/createLogger';

/** AWS credentials as the SDK's providers return them. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Signs an MSK IAM token; `expiryTime` is in epoch milliseconds. */
export type MskTokenSigner = (input: {
  region: string;
  credentials: AwsCredentials;
}) => Promise<{ token: string; expiryTime: number }>;

/** Options for {@link createMskIamTokenProvider}. */
export interface MskIamTokenProviderOptions {
  /** The cluster's region. */
  region: string;
  /**
   * Where credentials come from (default: the AWS SDK's default chain, which on ECS reads the
   * task role and renews those credentials before they expire).
   */
  credentials?: () => Promise<AwsCredentials>;
  /** Signs a token (default: `aws-msk-iam-sasl-signer-js`). Tests inject a fake. */
  sign?: MskTokenSigner;
  /** Wall clock in epoch milliseconds, compared with token expiry times (default `Date.now`). */
  clock?: () => number;
  /**
   * A cached token is replaced once less than this is left of it (default 5 minutes of the
   * signer's 15). It must exceed kafkajs' re-authentication threshold (10 s), so a connection
   * that re-authenticates because its session is about to end gets a fresh token.
   */
  refreshBeforeExpiryMs?: number;
  logger?: Logger;
}

/** kafkajs re-authenticates this long before a session ends; a token older than that is useless. */
const KAFKAJS_REAUTH_THRESHOLD_MS = 10_000;

const signWithAwsSigner: MskTokenSigner = ({ region, credentials }) =>
  generateAuthTokenFromCredentialsProvider({ region, awsCredentialsProvider: async () => credentials });

/**
 * The kafkajs `oauthBearerProvider` for MSK IAM. kafkajs calls it on every (re)authentication of
 * every connection; connections live for days and MSK ends each session when its token expires,
 * so the provider hands out a cached token only while it is both young enough and signed with the
 * credentials the credential chain returns now. A token is re-signed when it is within
 * `refreshBeforeExpiryMs` of its expiry, or as soon as the credentials changed (rotation of the
 * task role's keys). Concurrent calls share one signing. When re-signing fails while the cached
 * token still has time left, that token is used and the failure logged; otherwise the call fails
 * with `kafka.iam_token_failed` (retriable).
 */
export function createMskIamTokenProvider(
  options: MskIamTokenProviderOptions,
): () => Promise<OauthbearerProviderResponse> {
  const clock = options.clock ?? Date.now;
  const sign = options.sign ?? signWithAwsSigner;
  const refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? 5 * 60_000;
  const credentials = options.credentials ?? fromNodeProviderChain();
  let cached: { token: string; expiryTime: number; identity: string } | undefined;
  let signing: { identity: string; promise: Promise<string> } | undefined;

  const fail = (cause: unknown): never => {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new AppError('kafka.iam_token_failed', `could not sign an MSK IAM token for ${options.region}: ${reason}`, {
      retriable: true,
      cause,
    });
  };

  const signFor = (current: AwsCredentials, identity: string): Promise<string> => {
    if (signing?.identity === identity) return signing.promise;
    const promise = sign({ region: options.region, credentials: current })
      .then(
        ({ token, expiryTime }) => {
          cached = { token, expiryTime, identity };
          return token;
        },
        (error: unknown) => {
          const fallback = cached?.identity === identity ? cached : undefined;
          if (fallback && clock() < fallback.expiryTime - KAFKAJS_REAUTH_THRESHOLD_MS) {
            options.logger?.warn({ err: error }, 'could not renew the MSK IAM token; using the current one meanwhile');
            return fallback.token;
          }
          return fail(error);
        },
      )
      .finally(() => {
        if (signing?.promise === promise) signing = undefined;
      });
    signing = { identity, promise };
    return promise;
  };

  return async () => {
    let current: AwsCredentials;
    try {
      current = await credentials();
    } catch (error) {
      return fail(error);
    }
    // The key id alone stays the same across some renewals; the session token does not.
    const identity = `${current.accessKeyId}:${current.sessionToken ?? ''}`;
    if (cached && cached.identity === identity && clock() < cached.expiryTime - refreshBeforeExpiryMs) {
      return { value: cached.token };
    }
    return { value: await signFor(current, identity) };
  };
}
