import { randomUUID } from 'node:crypto';
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AppError } from '@outbox/shared';

/** Options for {@link RedriveLease}. */
export interface RedriveLeaseOptions {
  doc: DynamoDBDocumentClient;
  /** The Notifications table; the lease is one item in it. */
  table: string;
  /** What the lease guards, e.g. the DLQ topic name. */
  name: string;
  /** How long the lease holds without a renewal; a crashed run frees it after this. */
  durationMs: number;
  /** Wall clock (the expiry is compared across machines); injectable for tests. */
  now?: () => Date;
}

/**
 * Lets one redrive run at a time: a conditional item `REDRIVE#<name>`/`LEASE` in the
 * Notifications table, with its owner and expiry. Taking it succeeds only when it is absent or
 * expired; renewing and releasing only while this run still owns it. A run that crashed without
 * releasing holds it until the expiry.
 */
export class RedriveLease {
  readonly owner = randomUUID();
  private readonly options: RedriveLeaseOptions;
  private readonly now: () => Date;

  constructor(options: RedriveLeaseOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  private get key() {
    return { pk: `REDRIVE#${this.options.name}`, sk: 'LEASE' };
  }

  /** Takes the lease, or throws `redrive.locked` (not retriable) when another run holds it. */
  async acquire(): Promise<void> {
    await this.write(
      'attribute_not_exists(pk) OR leaseExpiresAt < :now OR leaseOwner = :owner',
      'Another redrive of this dead-letter topic is running',
    );
  }

  /** Extends the lease; throws `redrive.lease_lost` when another run took it meanwhile. */
  async renew(): Promise<void> {
    await this.write('leaseOwner = :owner', 'The redrive lease was lost');
  }

  /** Gives the lease up (only if still ours). */
  async release(): Promise<void> {
    await this.options.doc
      .send(
        new DeleteCommand({
          TableName: this.options.table,
          Key: this.key,
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': this.owner },
        }),
      )
      .catch(() => undefined);
  }

  private async write(condition: string, refusal: string): Promise<void> {
    const now = this.now();
    const expiresAtMs = now.getTime() + this.options.durationMs;
    try {
      await this.options.doc.send(
        new PutCommand({
          TableName: this.options.table,
          Item: {
            ...this.key,
            leaseOwner: this.owner,
            leaseExpiresAt: expiresAtMs,
            acquiredAt: now.toISOString(),
            // DynamoDB TTL removes an abandoned lease item a day after it lapsed.
            expiresAt: Math.floor(expiresAtMs / 1000) + 86_400,
          },
          ConditionExpression: condition,
          ExpressionAttributeValues: {
            ':owner': this.owner,
            ...(condition.includes(':now') ? { ':now': now.getTime() } : {}),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') {
        // The failed item comes back in DynamoDB's wire format (the document client does not unmarshall errors).
        const held = (error as { Item?: Record<string, { S?: string; N?: string } | undefined> }).Item;
        const owner = held?.leaseOwner?.S ?? 'unknown';
        const until = held?.leaseExpiresAt?.N ? new Date(Number(held.leaseExpiresAt.N)).toISOString() : 'unknown';
        throw new AppError(
          condition.includes(':now') ? 'redrive.locked' : 'redrive.lease_lost',
          `${refusal} (lease owner ${owner}, held until ${until})`,
          { retriable: false, details: { owner, until } },
        );
      }
      throw new AppError(
        'redrive.lease_unavailable',
        `Could not write the redrive lease: ${(error as Error).message}`,
        {
          retriable: true,
          cause: error,
        },
      );
    }
  }
}
