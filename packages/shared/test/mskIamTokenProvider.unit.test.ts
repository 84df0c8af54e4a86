import { AppError, createMskIamTokenProvider, type AwsCredentials, type MskTokenSigner } from '../src';

const MINUTE = 60_000;

/** A credential chain whose current credentials the test swaps, as ECS does when it rotates the task role's keys. */
function rotatingCredentials(initial: AwsCredentials) {
  let current = initial;
  return {
    provider: async () => current,
    rotate(next: AwsCredentials) {
      current = next;
    },
  };
}

/** A signer that records each signing and issues 15-minute tokens against the injected clock. */
function recordingSigner(now: () => number) {
  const signed: { accessKeyId: string; at: number }[] = [];
  const sign: MskTokenSigner = async ({ credentials }) => {
    signed.push({ accessKeyId: credentials.accessKeyId, at: now() });
    return { token: `token-${signed.length}-${credentials.accessKeyId}`, expiryTime: now() + 15 * MINUTE };
  };
  return { sign, signed };
}

describe('MSK IAM token provider (injected clock, credentials and signer)', () => {
  const keyA = { accessKeyId: 'AKIA-A', secretAccessKey: 'secret-a', sessionToken: 'session-a' };
  const keyB = { accessKeyId: 'AKIA-B', secretAccessKey: 'secret-b', sessionToken: 'session-b' };

  test('When connections authenticate while the token is young, then they all get the one cached token', async () => {
    let now = 1_000_000;
    const { sign, signed } = recordingSigner(() => now);
    const provide = createMskIamTokenProvider({
      region: 'eu-west-1',
      credentials: rotatingCredentials(keyA).provider,
      sign,
      clock: () => now,
    });

    const first = await provide();
    now += 9 * MINUTE;
    const later = await provide();

    expect(first.value).toBe('token-1-AKIA-A');
    expect(later.value).toBe('token-1-AKIA-A');
    expect(signed).toHaveLength(1);
  });

  test('When the token gets within the refresh margin of its expiry, then the next (re)authentication gets a new token, and so on for days', async () => {
    let now = 1_000_000;
    const { sign, signed } = recordingSigner(() => now);
    const provide = createMskIamTokenProvider({
      region: 'eu-west-1',
      credentials: rotatingCredentials(keyA).provider,
      sign,
      clock: () => now,
      refreshBeforeExpiryMs: 5 * MINUTE,
    });

    const first = await provide();
    now += 10 * MINUTE; // exactly 5 minutes left: renewed
    const renewed = await provide();
    // Three days of re-authentication every 10 minutes: every token handed out has > 5 minutes left.
    const tokens = new Set<string>([first.value, renewed.value]);
    for (let step = 0; step < 3 * 24 * 6; step++) {
      now += 10 * MINUTE;
      const { value } = await provide();
      tokens.add(value);
      const issued = signed.find((_entry, index) => value === `token-${index + 1}-AKIA-A`);
      expect(issued).toBeDefined();
      expect(issued!.at + 15 * MINUTE - now).toBeGreaterThan(5 * MINUTE - 1);
    }

    expect(renewed.value).not.toBe(first.value);
    expect(signed.length).toBe(2 + 3 * 24 * 6);
    expect(tokens.size).toBe(signed.length);
  });

  test('When the credentials rotate, then the next call signs with the new credentials although the old token is still young', async () => {
    let now = 1_000_000;
    const { sign, signed } = recordingSigner(() => now);
    const chain = rotatingCredentials(keyA);
    const provide = createMskIamTokenProvider({
      region: 'eu-west-1',
      credentials: chain.provider,
      sign,
      clock: () => now,
    });

    expect((await provide()).value).toBe('token-1-AKIA-A');
    now += MINUTE;
    chain.rotate(keyB);
    expect((await provide()).value).toBe('token-2-AKIA-B');
    // Same key id, new session token (an STS renewal): also a new token.
    chain.rotate({ ...keyB, sessionToken: 'session-b2' });
    expect((await provide()).value).toBe('token-3-AKIA-B');
    expect((await provide()).value).toBe('token-3-AKIA-B');
    expect(signed.map((entry) => entry.accessKeyId)).toEqual(['AKIA-A', 'AKIA-B', 'AKIA-B']);
  });

  test('When many connections authenticate at once, then one signing serves them all', async () => {
    const now = 1_000_000;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let signings = 0;
    const provide = createMskIamTokenProvider({
      region: 'eu-west-1',
      credentials: async () => keyA,
      sign: async () => {
        signings += 1;
        await gate;
        return { token: `token-${signings}`, expiryTime: now + 15 * MINUTE };
      },
      clock: () => now,
    });

    const pending = Promise.all(Array.from({ length: 5 }, () => provide()));
    release();
    const tokens = await pending;

    expect(tokens.map((token) => token.value)).toEqual(Array(5).fill('token-1'));
    expect(signings).toBe(1);
  });

  test('When renewing fails, then the cached token is used while it still has time, and after that the call fails with kafka.iam_token_failed', async () => {
    let now = 1_000_000;
    let failing = false;
    const provide = createMskIamTokenProvider({
      region: 'eu-west-1',
      credentials: async () => keyA,
      sign: async () => {
        if (failing) throw new Error('credentials endpoint timed out');
        return { token: 'token-1', expiryTime: now + 15 * MINUTE };
      },
      clock: () => now,
    });

    await provide();
    failing = true;
    now += 12 * MINUTE; // 3 minutes left: due for renewal, still usable
    expect((await provide()).value).toBe('token-1');
    now += 3 * MINUTE - 5_000; // 5 s left: too close to expiry for a new session

    const error = await provide().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'kafka.iam_token_failed', retriable: true });
    expect((error as Error).message).toMatch(/eu-west-1: credentials endpoint timed out/);
  });

  test('When the credential chain fails, then the call fails with kafka.iam_token_failed naming the cause', async () => {
    const provide = createMskIamTokenProvider({
      region: 'eu-west-1',
      credentials: async () => {
        throw new Error('Could not load credentials from any providers');
      },
    });

    await expect(provide()).rejects.toMatchObject({
      code: 'kafka.iam_token_failed',
      message: expect.stringMatching(/Could not load credentials from any providers/),
    });
  });
});

describe('MSK IAM token provider with the real aws-msk-iam-sasl-signer-js', () => {
  test('When it signs with static credentials, then the token is a presigned kafka-cluster:Connect URL for the region, valid 15 minutes', async () => {
    const provide = createMskIamTokenProvider({
      region: 'eu-west-1',
      credentials: async () => ({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'example-secret' }),
    });

    const { value } = await provide();

    const url = new URL(Buffer.from(value, 'base64url').toString('utf8'));
    expect(url.host).toBe('kafka.eu-west-1.amazonaws.com');
    expect(url.searchParams.get('Action')).toBe('kafka-cluster:Connect');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(
      /^AKIAEXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/,
    );
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });
});
