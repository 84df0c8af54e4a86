/**
 * A remembered response, stored as `IDEMPOTENCY#<key>` in the Orders table in the same
 * transaction as the change it answers for, so it exists if and only if that change committed.
 */
export interface IdempotencyRecord {
  key: string;
  /** Whose key it is (a digest of the caller's subject); absent when authentication is off. */
  scope?: string;
  /** SHA-256 of the request (method, path, caller and canonical body): same key, other request → 422. */
  requestHash: string;
  /** The response to replay. */
  status: number;
  /** The response body, as the JSON text sent. */
  body: string;
  /** Response headers to replay (e.g. `location`). */
  headers: Record<string, string>;
  createdAt: string;
  /** Epoch seconds; DynamoDB TTL deletes the record some time after. */
  expiresAt: number;
}
