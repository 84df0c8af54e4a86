import type { Caller } from './Caller';
import type { Order } from './Order';
import { forbiddenCustomer } from './errors';

/*
 * Who may act on whose orders. Without a caller (authentication off) every request may; an
 * admin may act for any customer; anyone else only for the customer its token names. Customer
 * ids are UUIDs, compared without regard to case.
 */

/** True when `caller` may create, read, list or cancel orders of `customerId`. */
export function mayActFor(caller: Caller | undefined, customerId: string): boolean {
  if (!caller || caller.admin) return true;
  return caller.customerId !== undefined && caller.customerId.toLowerCase() === customerId.toLowerCase();
}

/** Throws 403 `auth.forbidden` unless `caller` may act for `customerId` (placing and listing orders). */
export function assertMayActFor(caller: Caller | undefined, customerId: string): void {
  if (!mayActFor(caller, customerId)) throw forbiddenCustomer(customerId);
}

/**
 * The order when `caller` may see it, else `undefined`: reading or cancelling another
 * customer's order answers 404 as for an order that does not exist, so order ids of others
 * reveal nothing.
 */
export function visibleTo(caller: Caller | undefined, order: Order | undefined): Order | undefined {
  return order && mayActFor(caller, order.customerId) ? order : undefined;
}
