/** Who makes a request, as a verified bearer token says (absent when authentication is off). */
export interface Caller {
  /** The token's `sub`: the caller itself; idempotency keys are scoped to it. */
  subject: string;
  /** The customer whose orders this caller owns (from the configured claim); admins may lack one. */
  customerId?: string;
  /** Holds the configured admin scope: may act on any customer's orders. */
  admin: boolean;
}
