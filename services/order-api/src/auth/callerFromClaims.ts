import type { Caller } from '../domain/Caller';
import { invalidToken } from './authErrors';

/** Options for {@link callerFromClaims}. */
export interface CallerClaimsOptions {
  /** The claim that holds the caller's customer id (`sub` by default in config). */
  customerIdClaim: string;
  /** The scope that lets a caller act on any customer's orders; none when unset. */
  adminScope?: string;
}

/**
 * The scopes a token grants: the OAuth `scope` claim (RFC 8693, space-separated) and the `scp`
 * claim some issuers use instead (a list, or one space-separated string).
 */
function scopesOf(claims: Record<string, unknown>): string[] {
  const words = (value: unknown): string[] =>
    typeof value === 'string'
      ? value.split(' ').filter((scope) => scope.length > 0)
      : Array.isArray(value)
        ? value.filter((scope): scope is string => typeof scope === 'string')
        : [];
  return [...words(claims.scope), ...words(claims.scp)];
}

/**
 * Reads the caller from a verified token's claims. `sub` must be a non-empty string; the
 * customer id claim must be one too, except for an admin (who may act for any customer).
 * Throws 401 `auth.invalid_token` otherwise.
 */
export function callerFromClaims(claims: Record<string, unknown>, options: CallerClaimsOptions): Caller {
  const subject = claims.sub;
  if (typeof subject !== 'string' || subject.length === 0) throw invalidToken('"sub" must be a non-empty string');
  const admin = options.adminScope !== undefined && scopesOf(claims).includes(options.adminScope);
  const customerId = claims[options.customerIdClaim];
  if (typeof customerId === 'string' && customerId.length > 0) return { subject, customerId, admin };
  if (admin) return { subject, admin };
  throw invalidToken(`"${options.customerIdClaim}" must name the caller's customer`);
}
