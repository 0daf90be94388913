// The two-level dashboard cache: L1 an in-process LRU (TTL at most 60 s), L2 Redis. Entries are
// stored pre-serialised with their ETag, so a hit costs no JSON work. A miss computes once per
// key however many requests wait for it (single-flight). Invalidation clears L2 with SCAN +
// UNLINK and every API process's L1 through pub/sub.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../infra/logger.js';
import { MINUTE } from '../infra/time.js';

export interface CacheEntry {
  /** The JSON body as sent. */
  body: string;
  etag: string;
  computedAt: number;
  expiresAt: number;
}

export type ServedFrom = 'l1' | 'l2' | 'computed';

export interface CacheStats {
  total_requests: number;
  hit_rate: number;
  l1_hits: number;
  l2_hits: number;
  misses: number;
  l1_hit_rate: number;
  l2_hit_rate: number;
  l1_size: number;
}

const L1_MAX_TTL_MS = MINUTE;

export function makeEntry(value: unknown, ttlMs: number, now = Date.now()): CacheEntry {
  const body = JSON.stringify(value);
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  return { body, etag, computedAt: now, expiresAt: now + ttlMs };
}

/** A user's glob with only `*` as a wildcard: every other character matches itself. */
export function globToRedisMatch(pattern: string): string {
  return pattern.replace(/[\\?[\]^]/g, (c) => `\\${c}`);
}

/**
 * Whether `name` matches `pattern` (only `*` is a wildcard), in time linear in the name for
 * each star: a pattern like `*a*a*a…b` made the regular expression it used to become backtrack
 * for minutes, in every API process the invalidation reached.
 */
export function globMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.length && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (star >= 0) {
      // Let the last star take one more character, and try the rest again from there.
      p = star + 1;
      n = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export class DashboardCache {
  private readonly l1: LRUCache<string, CacheEntry>;
  private readonly inflight = new Map<string, Promise<CacheEntry>>();
  private readonly counts = { requests: 0, l1: 0, l2: 0, misses: 0 };
  private subscriber: Redis | undefined;
  onLookup?: (served: ServedFrom) => void;

  constructor(
    private readonly redis: Redis,
    private readonly keys: { cachePrefix: string; cacheInvalidations: string },
    private readonly log: Logger,
    l1Max = 1_000,
  ) {
    this.l1 = new LRUCache<string, CacheEntry>({ max: l1Max, ttlAutopurge: false });
  }

  /** Listens for invalidations from every process (this one included). */
  async subscribe(): Promise<void> {
    this.subscriber = this.redis.duplicate();
    this.subscriber.on('error', (err) =>
      this.log.warn({ err: err.message }, 'cache invalidation subscriber error'),
    );
    this.subscriber.on('message', (_channel: string, pattern: string) => this.clearL1(pattern));
    await this.subscriber.subscribe(this.keys.cacheInvalidations);
  }

  async close(): Promise<void> {
    if (this.subscriber) {
      await this.subscriber.quit().catch(() => this.subscriber?.disconnect());
      this.subscriber = undefined;
    }
  }

  private l1Set(name: string, entry: CacheEntry, now: number): void {
    const ttl = Math.min(L1_MAX_TTL_MS, entry.expiresAt - now);
    if (ttl > 0) this.l1.set(name, entry, { ttl });
  }

  /**
   * The entry for `name` if this process's L1 holds it unexpired, counted as an L1 hit; else
   * undefined, counting nothing (`get` follows and counts). The hot path of every read: no
   * promise, no await.
   */
  local(name: string): CacheEntry | undefined {
    const entry = this.l1.get(name);
    if (entry && entry.expiresAt > Date.now()) {
      this.counts.requests += 1;
      this.counts.l1 += 1;
      this.onLookup?.('l1');
      return entry;
    }
    return undefined;
  }

  /** The entry for `name`: from L1, else L2, else computed (once, however many ask). */
  async get(
    name: string,
    ttlMs: number,
    compute: () => Promise<unknown>,
  ): Promise<{ entry: CacheEntry; served: ServedFrom }> {
    const local = this.local(name);
    if (local) return { entry: local, served: 'l1' };
    let pending = this.inflight.get(name);
    if (pending) return this.joined(pending);
    const now = Date.now();
    const remote = await this.redis.get(this.keys.cachePrefix + name);
    // A computation may have started, or finished into L1, while Redis answered.
    const landed = this.local(name);
    if (landed) return { entry: landed, served: 'l1' };
    pending = this.inflight.get(name);
    if (pending) return this.joined(pending);
    if (remote) {
      const entry = JSON.parse(remote) as CacheEntry;
      if (entry.expiresAt > now) {
        this.l1Set(name, entry, now);
        this.counts.requests += 1;
        this.counts.l2 += 1;
        this.onLookup?.('l2');
        return { entry, served: 'l2' };
      }
    }
    this.counts.requests += 1;
    this.counts.misses += 1;
    this.onLookup?.('computed');
    pending = (async () => {
      try {
        const entry = makeEntry(await compute(), ttlMs);
        // The answer goes out without waiting for Redis: L1 has it at once, and the L2 write
        // is on the wire before the response (one connection, commands in order), so no
        // later request of this process, nor an invalidation, can overtake it.
        this.l1Set(name, entry, Date.now());
        this.put(name, entry).catch((err: unknown) =>
          this.log.warn({ err: (err as Error).message, entry: name }, 'cache write failed'),
        );
        return entry;
      } finally {
        this.inflight.delete(name);
      }
    })();
    this.inflight.set(name, pending);
    return { entry: await pending, served: 'computed' };
  }

  /** Waits for a computation another request started: a miss, answered once for all. */
  private async joined(
    pending: Promise<CacheEntry>,
  ): Promise<{ entry: CacheEntry; served: ServedFrom }> {
    this.counts.requests += 1;
    this.counts.misses += 1;
    this.onLookup?.('computed');
    return { entry: await pending, served: 'computed' };
  }

  /**
   * Stores an entry in L2 (with its TTL) and L1 — what the warm job does ahead of requests.
   * `announce` drops older copies of it from every process's L1, so they read the new one.
   */
  async put(name: string, entry: CacheEntry, opts: { announce?: boolean } = {}): Promise<void> {
    const ttl = entry.expiresAt - Date.now();
    if (ttl <= 0) return;
    await this.redis.set(this.keys.cachePrefix + name, JSON.stringify(entry), 'PX', ttl);
    // Entry names hold no `*`, so the name is a pattern that matches only itself.
    if (opts.announce) await this.redis.publish(this.keys.cacheInvalidations, name);
    this.l1Set(name, entry, Date.now());
  }

  /**
   * Deletes the entries whose names match `pattern` (only `*` is a wildcard) from L2, and from
   * the L1 of every API process. Returns the number of L2 entries removed.
   */
  async invalidate(pattern: string): Promise<number> {
    const match = this.keys.cachePrefix + globToRedisMatch(pattern);
    let removed = 0;
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
      cursor = next;
      if (found.length > 0) removed += await this.redis.unlink(...found);
    } while (cursor !== '0');
    this.clearL1(pattern);
    await this.redis.publish(this.keys.cacheInvalidations, pattern);
    return removed;
  }

  private clearL1(pattern: string): void {
    for (const name of [...this.l1.keys()]) if (globMatches(pattern, name)) this.l1.delete(name);
  }

  stats(): CacheStats {
    const { requests, l1, l2, misses } = this.counts;
    const rate = (n: number) => (requests > 0 ? n / requests : 0);
    return {
      total_requests: requests,
      hit_rate: rate(l1 + l2),
      l1_hits: l1,
      l2_hits: l2,
      misses,
      l1_hit_rate: rate(l1),
      l2_hit_rate: rate(l2),
      l1_size: this.l1.size,
    };
  }
}
