import type { RequestHandler, Response } from 'express';
import type { Caller } from '../domain/Caller';
import type { Authenticator } from '../auth/Authenticator';
import { missingToken } from '../auth/authErrors';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** Middleware that lets a request through only with a token `authenticate` accepts. */
export function requireBearerToken(authenticate: Authenticator): RequestHandler {
  return async (req, res, next) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    if (!match) throw missingToken();
    res.locals.caller = await authenticate(match[1] as string);
    next();
  };
}

/** The request's caller, or `undefined` when authentication is off. */
export function callerOf(res: Response): Caller | undefined {
  return res.locals.caller as Caller | undefined;
}
