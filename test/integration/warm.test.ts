// The warm job across a fleet: with two worker processes and a queue of warm requests, passes
// never overlap (the warm queue's global concurrency is 1), and each pass fills every
// standard entry from the metric-level rollups. With more series than one page, a pass caches
// the first page and the metric list without any query returning every series.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DashboardCache } from '../../src/cache/dashboard-cache.js';
import { cacheName } from '../../src/cache/names.js';
import { warm } from '../../src/jobs/warm.js';
import { start, type Running } from '../../src/main.js';
import type { DecodedEntry } from '../../src/metrics/buffer.js';
import { seriesDef } from '../../src/metrics/series.js';
import { PointStore } from '../../src/metrics/store.js';
import { createQueues, type Queues } from '../../src/workers/queues.js';
import { createTestContext, waitFor, type TestContext } from '../helpers/context.js';
import { MINUTE } from '../../src/infra/time.js';

let ctx: TestContext;
let connection: Redis;
let queues: Queues;
const workers: Running[] = [];

beforeAll(async () => {
  ctx = await createTestContext('warm');
  connection = new Redis(ctx.redisUrl, { maxRetriesPerRequest: null });
  queues = createQueues(connection, ctx.prefix, 3);
  const now = Math.floor(Date.now() / MINUTE) * MINUTE;
  const entries: DecodedEntry[] = ['cpu_usage_percentage', 'req_ms', 'queue_depth'].map(
    (metricName, m) => {
      const series = ['a', 'b', 'c'].map((host) =>
        seriesDef({ metricName, sourceAgentId: null, instanceId: null, tags: { host } }),
      );
      const n = 3 * 2 * 1_440;
      const e: DecodedEntry = {
        series,
        seriesIndex: new Uint32Array(n),
        ts: new Float64Array(n),
        value: new Float64Array(n),
      };
      for (let i = 0; i < n; i++) {
        e.seriesIndex[i] = i % 3;
        e.ts[i] = now - 2 * 1_440 * MINUTE + Math.floor(i / 3) * MINUTE + (i % 3);
        e.value[i] = 10 * (m + 1) + (i % 17);
      }
      return e;
    },
  );
  await new PointStore(ctx.db).write(entries);
  for (let i = 0; i < 2; i++)
    workers.push(await start(ctx.config({ PULSE_ROLE: 'worker', WARM_INTERVAL: '1h' }), ctx.log));
}, 120_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await queues?.close();
  await connection?.quit();
  await ctx?.cleanup();
});

it('runs one warm pass at a time across worker processes, each filling every entry', async () => {
  expect(await queues.warm.getGlobalConcurrency()).toBe(1);
  // Six requests that deduplication does not merge (distinct ids), as passes would pile up
  // when one outlives WARM_INTERVAL.
  const jobs = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      queues.warm.add('warm', { reason: 'manual' }, { jobId: `warm-test-${i}` }),
    ),
  );
  await waitFor(
    async () => (await queues.warm.getCompletedCount()) >= jobs.length,
    60_000,
    'six warm passes',
  );
  const done = await Promise.all(jobs.map((j) => queues.warm.getJob(j.id as string)));
  const spans = done
    .map((j) => [j?.processedOn ?? NaN, j?.finishedOn ?? NaN] as const)
    .sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++)
    expect(spans[i]![0], `pass ${i} started before pass ${i - 1} ended`).toBeGreaterThanOrEqual(
      spans[i - 1]![1],
    );
  const entries = done.map((j) => (j?.returnvalue as { entries: number }).entries);
  // 3 summaries, the regression report, the metric list, the first page of series and 3
  // trends per metric.
  expect(entries).toEqual(Array(6).fill(3 + 1 + 1 + 1 + 3 * 3));
  const summary = JSON.parse(
    (await ctx.redis.get(`${ctx.keys.cachePrefix}${cacheName.summary('24h')}`)) ?? '{}',
  ) as { body?: string };
  const body = JSON.parse(summary.body ?? '{}') as {
    metrics?: { metric_name: string; count: number; series: number }[];
  };
  const exact = await ctx.db.many<{ metric_name: string; count: number }>(
    `SELECT s.metric_name, count(*)::int AS count FROM points p JOIN series s ON s.id = p.series_id
     WHERE p.ts >= $1 AND p.ts < $2 GROUP BY 1 ORDER BY 1`,
    [
      new Date(Date.parse((JSON.parse(summary.body ?? '{}') as { from: string }).from)),
      new Date(Date.parse((JSON.parse(summary.body ?? '{}') as { to: string }).to)),
    ],
  );
  expect(body.metrics?.map((m) => [m.metric_name, m.count, m.series])).toEqual(
    exact.map((e) => [e.metric_name, e.count, 3]),
  );
});

/**
 * `target` with the row count of every query answered as an array recorded in `rows`, also
 * inside tasks and transactions (their callbacks get an observed task).
 */
function observed<T extends object>(target: T, rows: number[]): T {
  return new Proxy(target, {
    get(obj, prop) {
      const value: unknown = Reflect.get(obj, prop, obj);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const wrapped = args.map((a) =>
          typeof a === 'function'
            ? (t: unknown, ...rest: unknown[]) =>
                (a as (...x: unknown[]) => unknown)(
                  typeof t === 'object' && t !== null ? observed(t, rows) : t,
                  ...rest,
                )
            : a,
        );
        const out: unknown = (value as (...x: unknown[]) => unknown).apply(obj, wrapped);
        if (out instanceof Promise)
          return out.then((r: unknown) => {
            if (Array.isArray(r)) rows.push(r.length);
            return r;
          });
        return out;
      };
    },
  });
}

it('with 1,500 series of one metric more, caches the first page and the metric list, never reading every series', async () => {
  const now = Math.floor(Date.now() / MINUTE) * MINUTE;
  const wide = Array.from({ length: 1_500 }, (_, i) =>
    seriesDef({
      metricName: 'wide_metric',
      sourceAgentId: null,
      instanceId: null,
      tags: { n: String(i) },
    }),
  );
  await new PointStore(ctx.db).write([
    {
      series: wide,
      seriesIndex: Uint32Array.from(wide.keys()),
      ts: new Float64Array(wide.length).fill(now - MINUTE),
      value: new Float64Array(wide.length).fill(1),
    },
  ]);
  const rows: number[] = [];
  const cache = new DashboardCache(ctx.redis, ctx.keys, ctx.log);
  const { entries } = await warm(
    {
      db: observed(ctx.db, rows),
      cache,
      log: ctx.log,
      limits: { memoryPercent: 90, cpuPercent: 90 },
      ttlMs: 60_000,
    },
    { reason: 'manual' },
  );
  expect(entries).toBe(3 + 1 + 1 + 1 + 4 * 3);
  expect(rows.length).toBeGreaterThan(0);
  // The largest answer is the first page and its look-ahead row: 1,001 of 1,509 series.
  expect(Math.max(...rows)).toBe(1_001);
  const cached = async (name: string) =>
    JSON.parse(
      (
        JSON.parse((await ctx.redis.get(`${ctx.keys.cachePrefix}${name}`)) ?? '{}') as {
          body: string;
        }
      ).body,
    ) as unknown;
  const page = (await cached(cacheName.seriesFirstPage())) as {
    series: { id: number }[];
    next_cursor: string | null;
  };
  expect(page.series).toHaveLength(1_000);
  expect(page.next_cursor).not.toBeNull();
  expect(page.series.map((s) => s.id)).toEqual(
    (
      await ctx.db.many<{ id: number }>('SELECT id FROM series ORDER BY metric_name, id LIMIT 1000')
    ).map((r) => r.id),
  );
  expect(((await cached(cacheName.metrics())) as { metrics: unknown[] }).metrics).toEqual([
    { metric_name: 'cpu_usage_percentage', series: 3 },
    { metric_name: 'queue_depth', series: 3 },
    { metric_name: 'req_ms', series: 3 },
    { metric_name: 'wide_metric', series: 1_500 },
  ]);
});
