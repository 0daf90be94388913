// Bearer-token checks (HTTP Basic with the token as password is accepted too, so a browser can
// open Bull Board). Tokens are compared in constant time, over their SHA-256 digests so a
// length difference does not show either. Failed attempts are rate-limited per client address.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { HttpError } from './errors.js';
import { MINUTE } from '../infra/time.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Whether a request that changes something, authenticated by Basic (which a browser resends on
 * its own once it has it), came from another site: a page elsewhere could otherwise make an
 * admin's browser POST to Bull Board or the admin routes. Bearer tokens are never sent on
 * their own, so requests carrying one are not concerned.
 */
export function crossSiteBasic(req: Request): boolean {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return false;
  if (!/^Basic\s/i.test(req.get('authorization') ?? '')) return false;
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
  const origin = req.get('origin');
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.get('host');
  } catch {
    return true;
  }
}

/** The token a request carries: `Authorization: Bearer T`, or Basic with T as the password. */
export function presentedToken(req: Request): string | undefined {
  const header = req.get('authorization') ?? '';
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

/** Counts failed attempts per client in a sliding minute; over the limit, answers 429. */
export class FailedAuthLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(
    private readonly maxPerWindow = 20,
    private readonly windowMs = MINUTE,
  ) {}

  private recent(client: string, now: number): number[] {
    const times = (this.failures.get(client) ?? []).filter((t) => now - t < this.windowMs);
    if (times.length === 0) this.failures.delete(client);
    else this.failures.set(client, times);
    return times;
  }

  /** Seconds the client must wait, or 0. */
  blockedFor(client: string, now = Date.now()): number {
    const times = this.recent(client, now);
    if (times.length < this.maxPerWindow) return 0;
    return Math.max(1, Math.ceil(((times[0] as number) + this.windowMs - now) / 1_000));
  }

  fail(client: string, now = Date.now()): void {
    const times = this.recent(client, now);
    times.push(now);
    this.failures.set(client, times);
    // Bounded memory under a flood of distinct addresses.
    if (this.failures.size > 10_000)
      this.failures.delete(this.failures.keys().next().value as string);
  }
}

export type Access = 'read' | 'admin';

/**
 * Allows a request carrying any of `accepted` tokens (unset ones are skipped). With no token set
 * at all the route is open, except when `disabledMessage` is given: then it is refused (403).
 *
 * A request with a right token always passes: the limiter counts and blocks failed attempts
 * only, so many agents behind one address (a NAT, a proxy) are not locked out by one of them
 * with a stale token. A 401 on a `browser` route (Bull Board) offers Basic, then Bearer, each in
 * its own WWW-Authenticate header (a browser reads only the first challenge of a header), so the
 * browser asks for the token as a password; elsewhere it offers Bearer (Basic is still taken).
 */
export function requireToken(
  accepted: (string | undefined)[],
  realm: string,
  limiter?: FailedAuthLimiter,
  disabledMessage?: string,
  browser = false,
): RequestHandler {
  const tokens = accepted.filter((t): t is string => t !== undefined);
  // A JSON route offers Bearer only: offered Basic, a browser would answer a page script's
  // fetch with its own login dialog instead of handing the page the 401.
  const challenges = browser
    ? [`Basic realm="${realm}", charset="UTF-8"`, `Bearer realm="${realm}"`]
    : [`Bearer realm="${realm}"`];
  return (req, _res, next) => {
    if (tokens.length === 0) {
      return next(disabledMessage ? new HttpError(403, 'Forbidden', disabledMessage) : undefined);
    }
    const given = presentedToken(req);
    if (given !== undefined && tokens.some((t) => tokenMatches(given, t))) {
      if (crossSiteBasic(req))
        return next(
          new HttpError(
            403,
            'Forbidden',
            'a change with browser (Basic) credentials must come from this site; scripts send Authorization: Bearer',
          ),
        );
      return next();
    }
    // The peer, or with TRUST_PROXY the address the trusted proxies name.
    const client = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const wait = limiter?.blockedFor(client) ?? 0;
    if (wait > 0) {
      return next(
        new HttpError(
          429,
          'Too Many Requests',
          'too many failed authentication attempts; try again later',
          { headers: { 'Retry-After': String(wait) } },
        ),
      );
    }
    limiter?.fail(client);
    return next(
      new HttpError(
        401,
        'Unauthorized',
        given === undefined
          ? 'an Authorization: Bearer token is required'
          : 'the bearer token is wrong',
        { headers: { 'WWW-Authenticate': challenges } },
      ),
    );
  };
}
