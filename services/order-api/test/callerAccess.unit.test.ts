import { AppError } from '@outbox/shared';
import { callerFromClaims } from '../src/auth/callerFromClaims';
import { assertMayActFor, mayActFor, visibleTo } from '../src/domain/access';
import type { Order } from '../src/domain/Order';

const customer = '5f0c3c3e-8f7a-4c1e-9a53-2f1d3b7f9a10';
const other = '0b0b0b0b-0000-4000-8000-00000000000b';

describe('callerFromClaims (verified claims to a caller)', () => {
  const options = { customerIdClaim: 'cid', adminScope: 'orders:admin' };

  test('When the token names its customer in the configured claim, then the caller owns that customer and is no admin', () => {
    expect(callerFromClaims({ sub: 'u1', cid: customer, scope: 'orders' }, options)).toEqual({
      subject: 'u1',
      customerId: customer,
      admin: false,
    });
  });

  test('When the admin scope is in `scope` (space-separated) or `scp` (a list or a string), then the caller is an admin, with or without a customer', () => {
    expect(callerFromClaims({ sub: 'a', scope: 'read orders:admin' }, options)).toEqual({ subject: 'a', admin: true });
    expect(callerFromClaims({ sub: 'a', scp: ['orders:admin'] }, options).admin).toBe(true);
    expect(callerFromClaims({ sub: 'a', scp: 'x orders:admin', cid: customer }, options)).toEqual({
      subject: 'a',
      customerId: customer,
      admin: true,
    });
    // A look-alike scope is not the admin scope, and no admin scope is configured means no admins.
    expect(() => callerFromClaims({ sub: 'a', scope: 'orders:admins' }, options)).toThrow(/"cid"/);
    expect(() => callerFromClaims({ sub: 'a', scope: 'orders:admin' }, { customerIdClaim: 'cid' })).toThrow(/"cid"/);
  });

  test('When `sub` or the customer claim is missing, empty or not a string, then it is a 401 auth.invalid_token', () => {
    for (const claims of [
      { cid: customer },
      { sub: '', cid: customer },
      { sub: 7, cid: customer },
      { sub: 'u' },
      { sub: 'u', cid: '' },
      { sub: 'u', cid: 12 },
    ]) {
      let error: unknown;
      try {
        callerFromClaims(claims, options);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(AppError);
      expect({ claims, code: (error as AppError).code, status: (error as AppError).httpStatus }).toEqual({
        claims,
        code: 'auth.invalid_token',
        status: 401,
      });
    }
  });
});

describe('access rules (who may act on whose orders)', () => {
  const owner = { subject: 'u1', customerId: customer, admin: false };
  const stranger = { subject: 'u2', customerId: other, admin: false };
  const admin = { subject: 'ops', admin: true };
  const order = { orderId: 'o1', customerId: customer } as Order;

  test('When authentication is off (no caller), an admin, or the customer itself acts, then it may; anyone else may not', () => {
    expect(mayActFor(undefined, customer)).toBe(true);
    expect(mayActFor(admin, customer)).toBe(true);
    expect(mayActFor(owner, customer)).toBe(true);
    expect(mayActFor(owner, customer.toUpperCase())).toBe(true);
    expect(mayActFor(stranger, customer)).toBe(false);
    expect(mayActFor({ subject: 'x', admin: false }, customer)).toBe(false);
  });

  test("When a stranger places or lists for another customer, then it is a 403 auth.forbidden; another's order is invisible to it", () => {
    expect(() => assertMayActFor(stranger, customer)).toThrow(
      expect.objectContaining({ code: 'auth.forbidden', httpStatus: 403 }),
    );
    expect(() => assertMayActFor(owner, customer)).not.toThrow();
    expect(visibleTo(stranger, order)).toBeUndefined();
    expect(visibleTo(owner, order)).toBe(order);
    expect(visibleTo(admin, order)).toBe(order);
    expect(visibleTo(owner, undefined)).toBeUndefined();
  });
});
