// Bearer-token checks. Tokens are compared in constant time (over their SHA-256 digests,
// so a length difference does not show either); an unset token leaves the route open.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function requireToken(expected: string | undefined, realm: string): RequestHandler {
  return (req, _res, next) => {
    if (expected === undefined) return next();
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match || !tokenMatches(match[1] as string, expected)) {
      return next(
        new HttpError(
          401,
          'Unauthorized',
          match ? 'the bearer token is wrong' : 'an Authorization: Bearer token is required',
          {
            headers: { 'WWW-Authenticate': `Bearer realm="${realm}"` },
          },
        ),
      );
    }
    next();
  };
}
