/** The ways a client can reach the brokers (`KAFKA_SECURITY`). */
export const KAFKA_SECURITY_MODES = ['plaintext', 'tls', 'sasl-iam', 'sasl-scram-sha-512'] as const;

/** One of {@link KAFKA_SECURITY_MODES}. */
export type KafkaSecurityMode = (typeof KAFKA_SECURITY_MODES)[number];

/**
 * How the Kafka client connects and authenticates. Every SASL mode runs over TLS: MSK offers SASL
 * only on its TLS listeners, and a password or token must not cross the network in clear.
 */
export type KafkaSecurity =
  | { mode: 'plaintext' }
  | {
      mode: 'tls';
      /** PEM file of the CA that signed the brokers' certificates; the system CAs when unset. */
      caFile?: string;
    }
  | {
      mode: 'sasl-iam';
      caFile?: string;
      /** Region the OAUTHBEARER token is signed for (the cluster's region). */
      region: string;
    }
  | {
      mode: 'sasl-scram-sha-512';
      caFile?: string;
      username: string;
      password: string;
    };

/** A one-line description for logs and errors; never includes a secret. */
export function describeKafkaSecurity(security: KafkaSecurity): string {
  switch (security.mode) {
    case 'plaintext':
      return 'PLAINTEXT';
    case 'tls':
      return 'SSL';
    case 'sasl-iam':
      return `SASL_SSL, AWS MSK IAM (OAUTHBEARER) in ${security.region}`;
    case 'sasl-scram-sha-512':
      return `SASL_SSL, SCRAM-SHA-512 as user "${security.username}"`;
  }
}
