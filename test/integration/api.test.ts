// The read API with real data: values against the rollup queries, the auth matrix, the input
// error table, the 304 flow, invalidation seen by a second API process, single-flight misses,
// and Bull Board behind admin auth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardCache } from '../../src/cache/dashboard-cache.js';
import { aggregate } from '../../src/jobs/aggregate.js';
import { flush } from '../../src/jobs/flush.js';
import { start, type Running } from '../../src/main.js';
import type { Point } from '../../src/metrics/point.js';
import { summary, trend } from '../../src/metrics/rollup-queries.js';
import { PointStore } from '../../src/metrics/store.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { MINUTE } from '../../src/infra/time.js';

const READ = 'read-token-0123456789';
const ADMIN = 'admin-token-0123456789';
let ctx: TestContext;
let a: Running;
let b: Running;
let open: Running;

const url = (r: Running, path: string) => `http://127.0.0.1:${r.port}${path}`;
const get = (r: Running, path: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(url(r, path), {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });

/** Buffers the points and flushes them into PostgreSQL, as ingest and the flush job would. */
async function store(points: Point[]): Promise<void> {
  const buffer = ctx.buffer();
  await buffer.append(points);
  await flush(
    {
      buffer,
      store: new PointStore(ctx.db),
      log: ctx.log,
      consumer: 't',
      readEntries: 100,
      claimIdleMs: 60_000,
    },
    { reason: 'manual' },
  );
}

beforeAll(async () => {
  ctx = await createTestContext('api');
  const now = Date.now();
  const points: Point[] = [];
  for (let t = now - 3 * 3_600_000; t < now; t += 20_000) {
    for (const host of ['a', 'b']) {
      points.push({
        metricName: 'memory_usage_percentage',
        value: 60 + ((t / 20_000) % 17),
        ts: t,
        tags: { host },
        sourceAgentId: null,
        instanceId: null,
      });
      points.push({
        metricName: 'req_latency_ms',
        value: 5 + ((t / 20_000) % 97),
        ts: t,
        tags: { host },
        sourceAgentId: 'agent-1',
        instanceId: host,
      });
    }
  }
  await ctx.buffer().ensureGroup();
  await store(points);
  await aggregate({ db: ctx.db, log: ctx.log }, { reason: 'manual' });
  const env = { READ_TOKEN: READ, ADMIN_TOKEN: ADMIN, WARM_INTERVAL: '1h' };
  a = await start(ctx.config({ ...env, PULSE_ROLE: 'api' }), ctx.log);
  b = await start(ctx.config({ ...env, PULSE_ROLE: 'api' }), ctx.log);
  open = await start(
    ctx.config({ PULSE_ROLE: 'api', PULSE_PREFIX: `${ctx.prefix}:open` }),
    ctx.log,
  );
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), open?.stop()]);
  await ctx?.cleanup();
});

describe('values', () => {
  it('GET /metrics/summary matches the rollup summary for the same range, with health and alerts', async () => {
    const res = await get(a, '/api/v1/metrics/summary?time_range=24h', READ);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      served_from: string;
      from: string;
      to: string;
      metrics: unknown[];
      health_score: number;
      alert_count: number;
      cache: { total_requests: number };
    };
    expect(body.served_from).toBe('computed');
    const expected = await summary(ctx.db, {
      from: Date.parse(body.from),
      to: Date.parse(body.to),
    });
    expect(body.metrics).toEqual(expected);
    // memory averages 68 %: under 75, so no penalty; no alerts without critical values.
    expect(body.health_score).toBe(100);
    expect(body.alert_count).toBe(0);
    expect(body.cache.total_requests).toBeGreaterThan(0);
    const again = (await (await get(a, '/api/v1/metrics/summary?time_range=24h', READ)).json()) as {
      served_from: string;
    };
    expect(again.served_from).toBe('l1');
  });

  it('GET /time-series matches the rollup trend, with filters', async () => {
    const res = await get(
      a,
      '/api/v1/time-series?metric_name=req_latency_ms&time_range=3h&resolution=15m&source_agent_id=agent-1&tag.host=b',
      READ,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      points: { t: string; avg: number; min: number; max: number; p95: number; count: number }[];
      filters: unknown;
    };
    expect(body.filters).toEqual({ source_agent_id: 'agent-1', tags: { host: 'b' } });
    const to = Math.floor(Date.now() / MINUTE) * MINUTE + MINUTE;
    const expected = await trend(ctx.db, {
      metric: 'req_latency_ms',
      from: to - 3 * 3_600_000,
      to,
      resolutionMs: 15 * MINUTE,
      sourceAgentId: 'agent-1',
      tags: { host: 'b' },
    });
    expect(body.points).toEqual(
      expected.map((p) => ({
        t: p.t,
        avg: p.avg,
        min: p.min,
        max: p.max,
        p95: p.p95,
        count: p.count,
      })),
    );
    const raw = await ctx.db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM points p JOIN series s ON s.id = p.series_id
       WHERE s.metric_name = 'req_latency_ms' AND s.source_agent_id = 'agent-1' AND s.tags @> '{"host":"b"}' AND p.ts >= $1 AND p.ts < $2`,
      [new Date(to - 3 * 3_600_000), new Date(to)],
    );
    expect(body.points.reduce((n, p) => n + p.count, 0)).toBe(raw.n);
  });

  it('GET /series pages every series in (metric_name, id) order; GET /metrics counts them', async () => {
    const body = (await (await get(a, '/api/v1/series', READ)).json()) as {
      series: { id: number; metric_name: string }[];
      next_cursor: string | null;
    };
    expect(body.series).toEqual(
      await ctx.db.many(
        'SELECT id, metric_name, source_agent_id, instance_id, tags FROM series ORDER BY metric_name, id',
      ),
    );
    expect(body.next_cursor).toBeNull();
    const metrics = (await (await get(a, '/api/v1/metrics', READ)).json()) as {
      metrics: { metric_name: string; series: number }[];
    };
    expect(metrics.metrics).toEqual([
      { metric_name: 'memory_usage_percentage', series: 2 },
      { metric_name: 'req_latency_ms', series: 2 },
    ]);
  });

  it('answers 304 for a matching If-None-Match, with Cache-Control from the remaining TTL', async () => {
    const first = await get(a, '/api/v1/series', READ);
    const etag = first.headers.get('etag') as string;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const maxAge = Number(/max-age=(\d+)/.exec(first.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(60);
    expect(first.headers.get('cache-control')).toContain('private');
    const second = await get(a, '/api/v1/series', READ, { 'if-none-match': etag });
    expect(second.status).toBe(304);
    expect(await second.text()).toBe('');
  });
});

describe('the wire form of a cached answer', () => {
  it('sends valid JSON with an exact Content-Length, the same bytes from L1 as when computed', async () => {
    const path = '/api/v1/time-series?metric_name=memory_usage_percentage&time_range=3h';
    const first = await get(open, path);
    const second = await get(open, path);
    const bodies = [await first.text(), await second.text()];
    for (const [i, r] of [first, second].entries()) {
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(Number(r.headers.get('content-length'))).toBe(Buffer.byteLength(bodies[i] as string));
    }
    const [a1, a2] = bodies.map((b) => JSON.parse(b) as Record<string, unknown>);
    expect(a1?.served_from).toBe('computed');
    expect(a2?.served_from).toBe('l1');
    expect({ ...a1, served_from: 'l1' }).toEqual(a2);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
  });

  it('HEAD answers the headers of GET and no body', async () => {
    const path = '/api/v1/metrics/summary?time_range=3h';
    const got = await get(open, path);
    const head = await fetch(url(open, path), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect(head.headers.get('etag')).toBe(got.headers.get('etag'));
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(100);
  });

  it('the summary carries the cache counters of this request', async () => {
    const path = '/api/v1/metrics/summary?time_range=2h';
    await get(open, path);
    const body = (await (await get(open, path)).json()) as {
      served_from: string;
      cache: { total_requests: number; l1_hits: number; hit_rate: number };
    };
    expect(body.served_from).toBe('l1');
    expect(body.cache.l1_hits).toBeGreaterThanOrEqual(1);
    expect(body.cache.total_requests).toBeGreaterThanOrEqual(2);
    expect(body.cache.hit_rate).toBeGreaterThan(0);
    expect(body.cache.hit_rate).toBeLessThanOrEqual(1);
  });

  it('JSON answers carry the API security headers; pages get the full set', async () => {
    for (const path of ['/api/v1/series', '/healthz', '/api/v1/nothing-here']) {
      const r = await get(open, path);
      expect(r.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(r.headers.get('x-frame-options'), path).toBe('DENY');
      expect(r.headers.get('content-security-policy'), path).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      );
      expect(r.headers.get('cross-origin-resource-policy'), path).toBe('same-origin');
    }
    const page = await get(open, '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
  });
});

describe('auth', () => {
  const reads = [
    '/api/v1/metrics/summary',
    '/api/v1/time-series?metric_name=req_latency_ms',
    '/api/v1/series',
    '/api/v1/series?metric_name=req_latency_ms&limit=1',
    '/api/v1/metrics',
    '/api/v1/cache',
  ];
  it.each(reads)(
    '%s: 401 without or with a wrong token, 200 with the read or the admin token',
    async (path) => {
      expect((await get(a, path)).status).toBe(401);
      expect((await get(b, path, 'wrong-token-0123456789')).status).toBe(401);
      expect((await get(a, path, READ)).status).toBe(200);
      expect((await get(a, path, ADMIN)).status).toBe(200);
      expect((await get(open, path)).status).toBe(200);
    },
  );

  it('POST /cache/refresh: admin only, and off while ADMIN_TOKEN is unset', async () => {
    const post = (r: Running, token?: string) =>
      fetch(url(r, '/api/v1/cache/refresh'), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: '{"pattern":"nothing-matches-*"}',
      });
    expect((await post(a)).status).toBe(401);
    expect((await post(a, READ)).status).toBe(401);
    expect((await post(a, ADMIN)).status).toBe(200);
    const off = await post(open);
    expect(off.status).toBe(403);
    expect(await off.json()).toMatchObject({
      detail: 'admin routes are disabled: set ADMIN_TOKEN to use them',
    });
  });

  it('checks the token before reading a body: a bad token with a malformed body is 401', async () => {
    const r = await fetch(url(a, '/api/v1/cache/refresh'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${READ}` },
      body: '{"pattern":',
    });
    expect(r.status).toBe(401);
    const ok = await fetch(url(a, '/api/v1/cache/refresh'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: '{"pattern":',
    });
    expect(ok.status).toBe(400);
  });

  it('refuses a change made with browser (Basic) credentials from another site', async () => {
    const basic = `Basic ${Buffer.from(`ops:${ADMIN}`).toString('base64')}`;
    const refresh = (headers: Record<string, string>) =>
      fetch(url(a, '/api/v1/cache/refresh'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"pattern":"nothing-matches-*"}',
      });
    const evil = await refresh({ authorization: basic, origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(await evil.json()).toMatchObject({
      detail:
        'a change with browser (Basic) credentials must come from this site; scripts send Authorization: Bearer',
    });
    expect((await refresh({ authorization: basic, 'sec-fetch-site': 'cross-site' })).status).toBe(
      403,
    );
    const host = new URL(url(a, '/')).host;
    expect((await refresh({ authorization: basic, origin: `http://${host}` })).status).toBe(200);
    expect((await refresh({ authorization: basic })).status).toBe(200);
    // A script's Bearer token is never sent by a browser on its own: no origin check.
    expect(
      (await refresh({ authorization: `Bearer ${ADMIN}`, origin: 'https://evil.example' })).status,
    ).toBe(200);
    // Bull Board's own actions too.
    const pause = await fetch(url(a, '/admin/queues/api/queues/flush/pause'), {
      method: 'PUT',
      headers: { authorization: basic, 'sec-fetch-site': 'cross-site' },
    });
    expect(pause.status).toBe(403);
  });

  it('admin routes take small bodies only: 17 kB to /cache/refresh is 413, unread', async () => {
    const big = await fetch(url(a, '/api/v1/cache/refresh'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ pattern: 'x', padding: 'p'.repeat(17_000) }),
    });
    expect(big.status).toBe(413);
    // Without the token, the same body is a 401: nothing was read.
    const anonymous = await fetch(url(a, '/api/v1/cache/refresh'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pattern: 'x', padding: 'p'.repeat(17_000) }),
    });
    expect(anonymous.status).toBe(401);
  });

  it('Bull Board: 200 with the admin token (read-only with the read token), 401 without, off without ADMIN_TOKEN', async () => {
    const challenge = await get(a, '/admin/queues');
    expect(challenge.status).toBe(401);
    // Basic first, in a header of its own (fetch joins repeated headers with ", ").
    expect(challenge.headers.get('www-authenticate')).toBe(
      'Basic realm="pulse admin", charset="UTF-8", Bearer realm="pulse admin"',
    );
    const full = await get(a, '/admin/queues', ADMIN);
    expect(full.status).toBe(200);
    expect(await full.text()).not.toContain('pulse (read-only)');
    const viewer = await get(a, '/admin/queues', READ);
    expect(viewer.status).toBe(200);
    expect(await viewer.text()).toContain('pulse (read-only)');
    const basic = await get(a, '/admin/queues', undefined, {
      authorization: `Basic ${Buffer.from(`ops:${ADMIN}`).toString('base64')}`,
    });
    expect(basic.status).toBe(200);
    expect((await get(open, '/admin/queues')).status).toBe(403);
  });

  it('/healthz, /readyz and /metrics stay outside auth', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics'])
      expect((await get(a, path)).status).toBe(200);
  });
});

describe('input errors: 400 naming the parameter, 404 for an unknown metric', () => {
  it.each([
    ['/api/v1/metrics/summary?time_range=24', 'time_range', /m, h or d/],
    ['/api/v1/metrics/summary?time_range=91d', 'time_range', /at most 90d/],
    ['/api/v1/metrics/summary?time_range=0h', 'time_range', /m, h or d/],
    ['/api/v1/metrics/summary?range=24h', 'range', /not a known parameter/],
    ['/api/v1/metrics/summary?time_range=1h&time_range=2h', 'time_range', /given once/],
    ['/api/v1/time-series?time_range=1h', 'metric_name', /is required/],
    ['/api/v1/time-series?metric_name=bad%20name', 'metric_name', /must be 1 to 100 characters/],
    ['/api/v1/time-series?metric_name=req_latency_ms&resolution=30s', 'resolution', /m, h or d/],
    [
      '/api/v1/time-series?metric_name=req_latency_ms&time_range=1h&resolution=2h',
      'resolution',
      /not be longer than time_range/,
    ],
    [
      '/api/v1/time-series?metric_name=req_latency_ms&time_range=7d&resolution=1m',
      'resolution',
      /at most 5000 per answer/,
    ],
    ['/api/v1/time-series?metric_name=req_latency_ms&tag.=x', 'tag.', /must name a tag/],
    [
      '/api/v1/time-series?metric_name=req_latency_ms&instance_id=',
      'instance_id',
      /1 to 100 characters/,
    ],
  ])('%s → 400 on %s', async (path, field, reason) => {
    const res = await get(a, path, READ);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const body = (await res.json()) as { errors: { field: string; reason: string }[] };
    expect(body.errors[0]).toMatchObject({
      field,
      reason: expect.stringMatching(reason) as string,
    });
  });

  it('answers an unknown metric 404 from memory for a while, not a query each time', async () => {
    const path = '/api/v1/time-series?metric_name=arrives_later&time_range=1h';
    expect((await get(a, path, READ)).status).toBe(404);
    // The metric is stored now, but process a found it missing moments ago: still 404, no
    // query made; process b, which never looked, finds it.
    await store([
      {
        metricName: 'arrives_later',
        value: 1,
        ts: Date.now() - 60_000,
        tags: {},
        sourceAgentId: null,
        instanceId: null,
      },
    ]);
    const again = await get(a, path, READ);
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ detail: 'no metric named arrives_later is stored' });
    expect((await get(b, path, READ)).status).toBe(200);
  });

  it('unknown metric → 404', async () => {
    const res = await get(a, '/api/v1/time-series?metric_name=never_seen', READ);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ detail: 'no metric named never_seen is stored' });
  });

  it('a refresh pattern that is not printable ASCII → 400', async () => {
    const res = await fetch(url(a, '/api/v1/cache/refresh'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ pattern: 'a\nb' }),
    });
    expect(res.status).toBe(400);
  });
});

describe('the cache', () => {
  it('invalidation on one API process clears the other one’s L1', async () => {
    const path = '/api/v1/metrics/summary?time_range=1h';
    await get(b, path, READ);
    expect(((await (await get(b, path, READ)).json()) as { served_from: string }).served_from).toBe(
      'l1',
    );
    const refreshed = await fetch(url(a, '/api/v1/cache/refresh'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: '{"pattern":"summary:*"}',
    });
    expect(((await refreshed.json()) as { removed: number }).removed).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(((await (await get(b, path, READ)).json()) as { served_from: string }).served_from).toBe(
      'computed',
    );
  });

  it('names a range one way: 2880m, 48h, 2d and 02d are one cache entry', async () => {
    const served: string[] = [];
    for (const range of ['2880m', '48h', '2d', '02d']) {
      const res = await get(b, `/api/v1/metrics/summary?time_range=${range}`, READ);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { time_range: string; served_from: string };
      expect(body.time_range).toBe('2d');
      served.push(body.served_from);
    }
    expect(served).toEqual(['computed', 'l1', 'l1', 'l1']);
    const names = await ctx.redis.keys(`${ctx.keys.cachePrefix}summary:*`);
    expect(names.filter((n) => /summary:(2880m|48h|02d)$/.test(n))).toEqual([]);
    expect(names.filter((n) => n.endsWith('summary:2d'))).toHaveLength(1);
  });

  it('runs one computation for 100 concurrent misses', async () => {
    const cache = new DashboardCache(ctx.redis, ctx.keys, ctx.log);
    let computations = 0;
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        cache.get('single-flight-test', 10_000, async () => {
          computations += 1;
          await new Promise((r) => setTimeout(r, 50));
          return { value: 42 };
        }),
      ),
    );
    expect(computations).toBe(1);
    expect(new Set(results.map((r) => r.entry.etag)).size).toBe(1);
    expect(results.every((r) => r.served === 'computed')).toBe(true);
    // And through HTTP: 100 concurrent requests for an entry nobody warmed get one answer.
    const path = '/api/v1/time-series?metric_name=req_latency_ms&time_range=2h&resolution=7m';
    const answers = await Promise.all(Array.from({ length: 100 }, () => get(a, path, READ)));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(new Set(answers.map((r) => r.headers.get('etag'))).size).toBe(1);
  });

  it('escapes the refresh pattern: only * is a wildcard', async () => {
    await ctx.redis.set(`${ctx.keys.cachePrefix}trend:a?b`, '{}');
    await ctx.redis.set(`${ctx.keys.cachePrefix}trend:axb`, '{}');
    const cache = new DashboardCache(ctx.redis, ctx.keys, ctx.log);
    expect(await cache.invalidate('trend:a?b')).toBe(1);
    expect(await ctx.redis.exists(`${ctx.keys.cachePrefix}trend:axb`)).toBe(1);
  });
});

// Last: it locks the client out of process b.
describe('failed authentication', () => {
  it('rate-limits failed attempts per client', async () => {
    let last = 0;
    for (let i = 0; i < 25; i++)
      last = (await get(b, '/api/v1/series', `bad-${i}-token-0123456789`)).status;
    expect(last).toBe(429);
    const locked = await get(b, '/api/v1/series', 'bad-again-token-0123456789');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // The right token is never throttled: an agent behind the same address still gets in.
    expect((await get(b, '/api/v1/series', READ)).status).toBe(200);
  });
});
