// The demo script against a real database: every sampler metric the README lists, with the
// samplers' tags, values inside their physical bounds, counters that never go down, exactly one
// regression, exact rollups, and a second run that stores nothing twice.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC_NAME } from '../../src/metrics/point.js';
import { cacheName } from '../../src/cache/names.js';
import { demoRegression } from '../../src/demo/regression.js';
import { parseDays, parseEnd } from '../../src/demo/options.js';
import { runDemo, type DemoResult } from '../../src/demo/run.js';
import { UsageError } from '../../src/infra/usage-error.js';
import { countPoints, createTestContext, type TestContext } from '../helpers/context.js';
import { MINUTE, HOUR, DAY } from '../../src/infra/time.js';

const STEP = 10 * MINUTE;

let ctx: TestContext;
let first: DemoResult;
let now: number;

/**
 * The last Thursday 20:00 UTC at or before `at`: the last 12 hours and the same hours a day
 * earlier are then both working-day hours, so the weekly shape cannot pass for a regression.
 */
function lastThursdayEvening(at: number): number {
  const d = new Date(at);
  let t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 20);
  while (new Date(t).getUTCDay() !== 4 || t > at) t -= DAY;
  return t;
}

/**
 * The metric names of the README's "Metrics, with their units" table, shorthands expanded:
 * `_5m` after `host_load_average_1m` is `host_load_average_5m`.
 */
function readmeSamplerMetrics(): string[] {
  const text = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = text.indexOf('Metrics, with their units:');
  expect(start, 'the README has the sampler metric table').toBeGreaterThan(0);
  const lines = text.slice(start).split('\n').slice(1);
  const names: string[] = [];
  let inTable = false;
  for (const line of lines) {
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cell = line.split('|')[2] ?? '';
    let prefix = '';
    for (const [, token] of cell.matchAll(/`([^`]+)`/g)) {
      const name = token as string;
      if (name.startsWith('_')) names.push(prefix + name);
      else {
        prefix = name.slice(0, name.lastIndexOf('_'));
        names.push(name);
      }
    }
  }
  return names;
}

async function means(
  metric: string,
  tags: Record<string, string>,
  end: number,
): Promise<{ recent: number; dayBefore: number }> {
  return ctx.db.one<{ recent: number; dayBefore: number }>(
    `SELECT avg(p.value) FILTER (WHERE p.ts > $3::timestamptz - interval '12 hours') AS "recent",
            avg(p.value) FILTER (WHERE p.ts > $3::timestamptz - interval '36 hours'
                                   AND p.ts <= $3::timestamptz - interval '24 hours') AS "dayBefore"
     FROM points p JOIN series s ON s.id = p.series_id
     WHERE s.metric_name = $1 AND s.tags @> $2::jsonb AND p.ts <= $3::timestamptz`,
    [metric, JSON.stringify(tags), new Date(end)],
  );
}

beforeAll(async () => {
  ctx = await createTestContext('demo');
  now = lastThursdayEvening(Date.now());
  first = await runDemo({ db: ctx.db, config: ctx.config(), days: 2, stepMs: STEP, now, seed: 1 });
}, 120_000);

afterAll(async () => {
  await ctx?.cleanup();
});

describe('demo data', () => {
  it('holds every sampler metric the README lists, with the tags the samplers set', async () => {
    const listed = readmeSamplerMetrics();
    expect(listed.length).toBeGreaterThanOrEqual(40);
    for (const name of listed) expect(name).toMatch(METRIC_NAME);
    const stored = new Set(
      (await ctx.db.manyOrNone<{ m: string }>('SELECT DISTINCT metric_name AS m FROM series')).map(
        (r) => r.m,
      ),
    );
    expect(listed.filter((name) => !stored.has(name))).toEqual([]);
    // The scraped targets: node_exporter-like and an app with a latency histogram.
    for (const name of [
      'node_cpu_seconds_total',
      'node_load1',
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_count',
      'http_requests_total',
    ])
      expect(stored.has(name), name).toBe(true);

    const series = await ctx.db.manyOrNone<{ metric_name: string; tags: Record<string, string> }>(
      'SELECT metric_name, tags FROM series',
    );
    expect(series.length).toBe(first.series);
    const processMetrics = new Set(listed.filter((n) => /^(process_|gc_)/.test(n)));
    for (const s of series) {
      const where = `${s.metric_name} ${JSON.stringify(s.tags)}`;
      expect(s.tags.environment, where).toBe('demo');
      expect(s.tags.hostname, where).toMatch(/^pulse-demo-[123]$/);
      expect(s.tags.instance_id, where).toMatch(new RegExp(`^${s.tags.hostname}:\\d+$`));
      if (processMetrics.has(s.metric_name)) expect(['api', 'worker']).toContain(s.tags.role);
      else expect(s.tags.role, where).toBeUndefined();
      if (s.metric_name.startsWith('queue_'))
        expect(['flush', 'sample', 'aggregate', 'maintenance']).toContain(s.tags.queue);
      if (['up', 'scrape_duration_seconds'].includes(s.metric_name)) {
        expect(s.tags.target, where).toMatch(/^http:\/\/[^/]+\/metrics$/);
        expect(s.tags.target).toContain(`//${s.tags.instance}/`);
      }
    }
    // Six processes (api and worker on three hosts), each with the nine process metrics.
    const perProcess = series.filter((s) => s.metric_name === 'process_rss_bytes');
    expect(perProcess.map((s) => `${s.tags.hostname}/${s.tags.role}`).sort()).toEqual([
      'pulse-demo-1/api',
      'pulse-demo-1/worker',
      'pulse-demo-2/api',
      'pulse-demo-2/worker',
      'pulse-demo-3/api',
      'pulse-demo-3/worker',
    ]);
  });

  it('keeps values inside their physical bounds', async () => {
    const rows = await ctx.db.manyOrNone<{
      m: string;
      min: number;
      max: number;
      fractional: number;
    }>(
      `SELECT s.metric_name AS m, min(p.value) AS min, max(p.value) AS max,
              count(*) FILTER (WHERE p.value <> floor(p.value))::int AS fractional
       FROM points p JOIN series s ON s.id = p.series_id GROUP BY 1`,
    );
    expect(rows.length).toBeGreaterThan(45);
    for (const r of rows) {
      expect(r.min, r.m).toBeGreaterThanOrEqual(0);
      if (r.m === 'process_cpu_usage_percentage') expect(r.max, r.m).toBeLessThanOrEqual(200);
      else if (r.m.endsWith('_percentage')) expect(r.max, r.m).toBeLessThanOrEqual(100);
      if (r.m.endsWith('_ratio')) expect(r.max, r.m).toBeLessThanOrEqual(1);
      if (['up', 'redis_maxmemory_policy_noeviction'].includes(r.m)) {
        expect(r.fractional, r.m).toBe(0);
        expect(r.max, r.m).toBeLessThanOrEqual(1);
      }
      if (
        /_jobs$|^database_connections_(active|idle|idle_in_transaction|total)$|_count$|_total$|_bucket$|_clients$/.test(
          r.m,
        ) &&
        r.m !== 'node_cpu_seconds_total'
      )
        expect(r.fractional, `${r.m} counts whole things`).toBe(0);
    }
    // Readings that must agree with each other at every tick.
    const inconsistent = await ctx.db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM (
         SELECT p.ts, s.tags->>'hostname' AS host,
                max(p.value) FILTER (WHERE s.metric_name = 'database_connections_total') AS total,
                sum(p.value) FILTER (WHERE s.metric_name IN ('database_connections_active',
                  'database_connections_idle', 'database_connections_idle_in_transaction')) AS parts
         FROM points p JOIN series s ON s.id = p.series_id
         WHERE s.metric_name LIKE 'database_connections_%'
         GROUP BY 1, 2) t
       WHERE total IS DISTINCT FROM parts`,
    );
    expect(inconsistent.n).toBe(0);
  });

  it('has counters that never go down within a series, and cumulative histogram buckets', async () => {
    const counters = [
      'database_deadlocks_total',
      'redis_evicted_keys_total',
      'node_cpu_seconds_total',
      'node_network_receive_bytes_total',
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_count',
      'http_request_duration_seconds_sum',
    ];
    const rows = await ctx.db.manyOrNone<{ m: string; series: number; down: number; up: number }>(
      `SELECT m, count(DISTINCT series_id)::int AS series,
              count(*) FILTER (WHERE d < 0)::int AS down, count(*) FILTER (WHERE d > 0)::int AS up
       FROM (SELECT s.metric_name AS m, p.series_id,
                    p.value - lag(p.value) OVER (PARTITION BY p.series_id ORDER BY p.ts) AS d
             FROM points p JOIN series s ON s.id = p.series_id
             WHERE s.metric_name = ANY($1::text[])) x
       GROUP BY m`,
      [counters],
    );
    expect(rows.map((r) => r.m).sort()).toEqual([...counters].sort());
    for (const r of rows) {
      expect(r.down, r.m).toBe(0);
      if (r.m !== 'redis_evicted_keys_total' && r.m !== 'database_deadlocks_total')
        expect(r.up, `${r.m} moves`).toBeGreaterThan(0);
    }
    // Per scrape: buckets grow with le, and le="+Inf" is the count.
    const bad = await ctx.db.one<{ n: number; scrapes: number }>(
      `WITH b AS (
         SELECT p.ts, s.tags->>'hostname' AS host, s.tags->>'le' AS le, p.value
         FROM points p JOIN series s ON s.id = p.series_id
         WHERE s.metric_name = 'http_request_duration_seconds_bucket'
       ), c AS (
         SELECT p.ts, s.tags->>'hostname' AS host, p.value
         FROM points p JOIN series s ON s.id = p.series_id
         WHERE s.metric_name = 'http_request_duration_seconds_count'
       ), ordered AS (
         SELECT ts, host, le, value,
                lag(value) OVER (PARTITION BY ts, host ORDER BY CASE WHEN le = '+Inf' THEN 'Infinity'::float8 ELSE le::float8 END) AS below
         FROM b
       )
       SELECT (SELECT count(*)::int FROM ordered WHERE value < below)
            + (SELECT count(*)::int FROM c JOIN b USING (ts, host) WHERE b.le = '+Inf' AND b.value <> c.value) AS n,
              (SELECT count(*)::int FROM c) AS scrapes`,
    );
    expect(bad.scrapes).toBeGreaterThan(200);
    expect(bad.n).toBe(0);
  });

  it('has exactly the one regression it reports: ×1.4 in the last 12 h, the rest steady', async () => {
    const { regression } = first;
    expect(first.to).toBe(now);
    expect(now - regression.at).toBeGreaterThanOrEqual(12 * HOUR);
    expect(now - regression.at).toBeLessThan(13 * HOUR);
    expect(regression.series.map((s) => s.metric).sort()).toEqual([
      'cpu_usage_percentage',
      'process_event_loop_lag_p99_seconds',
    ]);
    for (const s of regression.series) {
      expect(s.tags.hostname).toBe(regression.hostname);
      const m = await means(s.metric, s.tags, now);
      expect(
        m.recent / m.dayBefore,
        `${s.metric} on ${regression.hostname}`,
      ).toBeGreaterThanOrEqual(1.3);
    }
    const other = first.hosts.find((h) => h !== regression.hostname) as string;
    const steady: [string, Record<string, string>][] = [
      ['cpu_usage_percentage', { hostname: other }],
      ['process_event_loop_lag_p99_seconds', { hostname: other, role: 'worker' }],
      ['process_event_loop_lag_p99_seconds', { hostname: regression.hostname, role: 'api' }],
    ];
    for (const [metric, tags] of steady) {
      const m = await means(metric, tags, now);
      const ratio = m.recent / m.dayBefore;
      expect(ratio, `${metric} ${JSON.stringify(tags)}`).toBeGreaterThanOrEqual(0.85);
      expect(ratio, `${metric} ${JSON.stringify(tags)}`).toBeLessThanOrEqual(1.15);
    }
  });

  it('keeps rollup_1m exact and builds rollup_1h for every closed hour', async () => {
    const points = await countPoints(ctx.db);
    expect(points).toBe(first.points);
    expect(first.inserted).toBe(first.points);
    const r = await ctx.db.one<{ m1: number; h1: number; dirty: number }>(
      `SELECT (SELECT sum(count)::int FROM rollup_1m) AS m1, (SELECT sum(count)::int FROM rollup_1h) AS h1,
              (SELECT count(*)::int FROM rollup_dirty_hours) AS dirty`,
    );
    expect(r.m1).toBe(points);
    // The data ended days ago, so every hour is closed and rolled up.
    expect(r.dirty).toBe(0);
    expect(r.h1).toBe(points);
    expect(first.rollup1h.hours).toBe(49);
  });

  it('stores nothing twice when run again with the same seed', async () => {
    const before = await countPoints(ctx.db);
    const again = await runDemo({
      db: ctx.db,
      config: ctx.config(),
      days: 2,
      stepMs: STEP,
      now,
      seed: 1,
    });
    expect(again.points).toBe(first.points);
    expect(again.inserted).toBe(0);
    expect(again.duplicates).toBe(first.points);
    expect(again.series).toBe(first.series);
    expect(await countPoints(ctx.db)).toBe(before);
    const m1 = await ctx.db.one<{ n: number }>('SELECT sum(count)::int AS n FROM rollup_1m');
    expect(m1.n).toBe(before);
  });

  it('refuses a range beyond RAW_RETENTION with a clear error', async () => {
    expect(() => parseDays('91', 90 * DAY)).toThrow(UsageError);
    expect(() => parseDays('91', 90 * DAY)).toThrow(
      /pulse accepts points \(90d: RAW_RETENTION.*--days 90 or less/,
    );
    expect(parseDays('90', 90 * DAY)).toBe(90);
    expect(() => parseDays('0', 90 * DAY)).toThrow(/at least 1/);
    await expect(
      runDemo({ db: ctx.db, config: ctx.config({ RAW_RETENTION: '1d' }), days: 2, now }),
    ).rejects.toThrow(/pulse accepts points \(1d/);
  });

  it('--end takes an ISO date-time or date, not the future nor past RAW_RETENTION', () => {
    const clock = Date.UTC(2026, 10, 30, 12);
    expect(parseEnd('2026-11-29T18:00:00Z', 7, 90 * DAY, clock)).toBe(Date.UTC(2026, 10, 29, 18));
    expect(parseEnd('2026-11-29T19:00:00+01:00', 7, 90 * DAY, clock)).toBe(
      Date.UTC(2026, 10, 29, 18),
    );
    expect(parseEnd('2026-11-29', 7, 90 * DAY, clock)).toBe(Date.UTC(2026, 10, 29));
    expect(() => parseEnd('yesterday', 7, 90 * DAY, clock)).toThrow(/--end "yesterday": expected/);
    expect(() => parseEnd('2026-11-29T18:00:00', 7, 90 * DAY, clock)).toThrow(/with a zone/);
    expect(() => parseEnd('2026-12-01T00:00:00Z', 7, 90 * DAY, clock)).toThrow(/in the future/);
    expect(() => parseEnd('2026-09-01', 7, 90 * DAY, clock)).toThrow(/pulse accepts points \(90d/);
  });

  it('ends with a regression run as of the end that replaces the cached report', async () => {
    const config = ctx.config();
    const cached = `${ctx.keys.cachePrefix}${cacheName.regressions()}`;
    await ctx.redis.del(cached);
    const run = await demoRegression(ctx.db, config, first.to + first.stepMs, ctx.log);
    expect(run.analysed).toBeGreaterThan(100);
    expect(run.computed_at).toBe(new Date(first.to + first.stepMs).toISOString());
    const entry = JSON.parse((await ctx.redis.get(cached)) as string) as { body: string };
    expect((JSON.parse(entry.body) as { run: { run_id: string } }).run.run_id).toBe(run.run_id);
  });
});
