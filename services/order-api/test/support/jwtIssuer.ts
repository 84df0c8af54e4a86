import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { closeServer, listen } from '@outbox/shared';

/** Signs a JWT with node:crypto, independently of the verifier under test (jose). */
export function signJwt(
  claims: Record<string, unknown>,
  key: KeyObject,
  header: Record<string, unknown> = { alg: 'RS256', kid: 'k1' },
): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode({ typ: 'JWT', ...header })}.${encode(claims)}`;
  const signature = header.alg === 'none' ? '' : sign('sha256', Buffer.from(signingInput), key).toString('base64url');
  return `${signingInput}.${signature}`;
}

/**
 * A token issuer for tests: an RSA key pair and a real JWKS server on loopback serving its
 * public key (`kid` k1), which can be switched to answer 500.
 */
export async function startJwtIssuer() {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const state = { healthy: true };
  const server: Server = createServer((_req, res) => {
    if (!state.healthy) {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ keys: [{ ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] }),
    );
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    keys,
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    /** A token signed with this issuer's key. */
    sign: (claims: Record<string, unknown>) => signJwt(claims, keys.privateKey),
    setHealthy: (healthy: boolean) => {
      state.healthy = healthy;
    },
    stop: () => closeServer(server),
  };
}
