// Answers from the dashboard cache: the entry's bytes encoded once and reused, 304 for a client
// that has them, an L1 hit sent without a promise in between, and metric names found missing
// remembered for a short while.
import { LRUCache } from 'lru-cache';
import type { Request, Response } from 'express';
import type { CacheEntry, DashboardCache, ServedFrom } from '../cache/dashboard-cache.js';
import { HttpError } from './errors.js';

/** What a cached entry puts on the wire besides per-request fields, built once per entry. */
interface Wire {
  /** The body without its opening brace, to follow the per-request fields. */
  tail: Buffer;
  lastModified: string;
}
const wires = new WeakMap<CacheEntry, Wire>();
/** Every answer's first field, an unclosed object. */
const SERVED_FROM: Record<ServedFrom, Buffer> = {
  l1: Buffer.from('{"served_from":"l1"'),
  l2: Buffer.from('{"served_from":"l2"'),
  computed: Buffer.from('{"served_from":"computed"'),
};

function wireOf(entry: CacheEntry): Wire {
  let wire = wires.get(entry);
  if (!wire) {
    const rest = entry.body.slice(1);
    wire = {
      tail: Buffer.from(rest === '}' ? rest : `,${rest}`),
      lastModified: new Date(entry.computedAt).toUTCString(),
    };
    wires.set(entry, wire);
  }
  return wire;
}

/**
 * Sends a cached entry: 304 when the client has it, else the body with where it came from.
 * The entry's bytes are encoded once and reused; a request only adds `extra`, JSON members
 * without braces (`"name":value,...`).
 */
export function sendEntry(
  req: Request,
  res: Response,
  entry: CacheEntry,
  served: ServedFrom,
  extra: string | undefined,
  isPrivate: boolean,
): void {
  const wire = wireOf(entry);
  const remaining = Math.max(0, Math.floor((entry.expiresAt - Date.now()) / 1_000));
  res.setHeader('ETag', entry.etag);
  res.setHeader('Cache-Control', `${isPrivate ? 'private' : 'public'}, max-age=${remaining}`);
  res.setHeader('Last-Modified', wire.lastModified);
  const match = req.headers['if-none-match'];
  if (
    match &&
    match.split(/\s*,\s*/).some((t) => t === entry.etag || t === '*' || t === `W/${entry.etag}`)
  ) {
    res.status(304).end();
    return;
  }
  // The cached body is an object; per-request fields go in front without re-serialising it.
  const head = SERVED_FROM[served];
  const more = extra === undefined ? undefined : Buffer.from(`,${extra}`);
  const length = head.length + (more?.length ?? 0) + wire.tail.length;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', length);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // Writes in one tick leave as one (the headers, the fields, the shared tail).
  res.write(head);
  if (more) res.write(more);
  res.end(wire.tail);
}

/** How long a metric name found missing is answered 404 without a query (at most CACHE_TTL). */
const MISSING_TTL_MS = 10_000;

/** The cache, how long a computed entry lives and whether answers are private, for every read. */
export class CachedAnswers {
  /**
   * Names no metric has, for a short while: a client asking for one again and again (a typo in
   * a dashboard, a scan) costs one query per name and period, not one per request.
   */
  readonly missing: LRUCache<string, true>;

  constructor(
    readonly cache: DashboardCache,
    readonly ttlMs: number,
    readonly isPrivate: boolean,
  ) {
    this.missing = new LRUCache<string, true>({
      max: 10_000,
      ttl: Math.min(MISSING_TTL_MS, ttlMs),
    });
  }

  /**
   * Answers from the cache: an L1 hit is sent at once, without a promise in between; anything
   * else goes through L2 or is computed. `extra` adds per-request fields, read after the lookup.
   */
  async serve(
    req: Request,
    res: Response,
    name: string,
    compute: () => Promise<unknown>,
    extra?: () => string,
  ): Promise<void> {
    if (this.sendLocal(req, res, name, extra)) return;
    const { entry, served } = await this.cache.get(name, this.ttlMs, compute);
    sendEntry(req, res, entry, served, extra?.(), this.isPrivate);
  }

  /** Sends the L1 entry of `name` if there is one; false when there is none. */
  sendLocal(req: Request, res: Response, name: string, extra?: () => string): boolean {
    const hit = this.cache.local(name);
    if (!hit) return false;
    sendEntry(req, res, hit, 'l1', extra?.(), this.isPrivate);
    return true;
  }
}

export function notStored(metric: string): HttpError {
  return new HttpError(404, 'Not Found', `no metric named ${metric} is stored`);
}
