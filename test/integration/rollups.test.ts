// Rollups against PostgreSQL's exact answer over the same raw rows: count, min and max exact,
// avg to 1e-9, p95 and p99 within 1 % of percentile_disc, for 1 h, 24 h and 7 d at 1m, 5m,
// 1h and 1d resolution, with late points and re-delivered (duplicate) points in the data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregate } from '../../src/jobs/aggregate.js';
import { flush } from '../../src/jobs/flush.js';
import type { Point } from '../../src/metrics/point.js';
import { summary, trend } from '../../src/metrics/rollup-queries.js';
import { PointStore } from '../../src/metrics/store.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { MINUTE, HOUR, DAY } from '../../src/infra/time.js';

let ctx: TestContext;
let end: number;
let lateHour: number;

// A deterministic pseudo-random stream (the test must not change from run to run).
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function make(t0: number, t1: number, stepMs: number, seed: number): Point[] {
  const r = rng(seed);
  const points: Point[] = [];
  for (let t = t0; t < t1; t += stepMs) {
    for (const host of ['a', 'b', 'c']) {
      // Log-normal-ish latencies with a heavy tail, and a signed gauge.
      const u = r();
      points.push({
        metricName: 'latency_ms',
        value: Math.exp(3 + 1.2 * (u + r() + r() - 1.5)) * (r() < 0.02 ? 20 : 1),
        ts: t + Math.floor(r() * 1000),
        tags: { host },
        sourceAgentId: null,
        instanceId: host === 'a' ? 'i-1' : 'i-2',
      });
      points.push({
        metricName: 'temperature_delta',
        value: (r() - 0.4) * 50,
        ts: t + 500,
        tags: { host },
        sourceAgentId: '7',
        instanceId: null,
      });
    }
  }
  return points;
}

async function ingest(points: Point[]) {
  const buffer = ctx.buffer();
  await buffer.ensureGroup();
  for (let i = 0; i < points.length; i += 10_000) await buffer.append(points.slice(i, i + 10_000));
  const store = new PointStore(ctx.db);
  for (;;) {
    const r = await flush(
      { buffer, store, log: ctx.log, consumer: 't', readEntries: 25, claimIdleMs: 60_000 },
      { reason: 'manual' },
    );
    if (r.points === 0) break;
  }
}

beforeAll(async () => {
  ctx = await createTestContext('rollups');
  end = Math.floor(Date.now() / MINUTE) * MINUTE;
  const start = end - 7 * DAY - 2 * HOUR;
  const points = make(start, end, 97_000, 1);
  await ingest(points);
  await aggregate({ db: ctx.db, log: ctx.log }, { reason: 'manual' });
  // Late points into an hour already rolled up, and a re-delivery of a slice already stored.
  lateHour = end - 30 * HOUR;
  lateHour -= lateHour % HOUR;
  await ingest([...make(lateHour, lateHour + HOUR, 41_000, 2), ...points.slice(5_000, 8_000)]);
}, 120_000);

afterAll(async () => {
  await ctx?.cleanup();
});

interface Exact {
  count: number;
  min: number;
  max: number;
  avg: number;
  p95: number;
  p99: number;
}

const EXACT = `count(*)::int AS count, min(value) AS min, max(value) AS max, avg(value) AS avg,
  percentile_disc(0.95) WITHIN GROUP (ORDER BY value) AS p95, percentile_disc(0.99) WITHIN GROUP (ORDER BY value) AS p99`;

function expectClose(
  got: { count: number; min: number; max: number; avg: number; p95: number; p99: number },
  exact: Exact,
  where: string,
) {
  expect(got.count, where).toBe(exact.count);
  expect(got.min, where).toBe(exact.min);
  expect(got.max, where).toBe(exact.max);
  expect(Math.abs(got.avg - exact.avg) / Math.abs(exact.avg), where).toBeLessThan(1e-9);
  for (const q of ['p95', 'p99'] as const) {
    expect(
      Math.abs(got[q] - exact[q]) / Math.abs(exact[q]),
      `${where} ${q}: ${got[q]} vs ${exact[q]}`,
    ).toBeLessThanOrEqual(0.01);
  }
}

describe('rollups', () => {
  it('count only the rows really inserted: a re-delivered slice adds nothing', async () => {
    const totals = await ctx.db.one<{ raw: number; rolled: number }>(
      `SELECT (SELECT count(*)::int FROM points) AS raw, (SELECT sum(count)::int FROM rollup_1m) AS rolled`,
    );
    expect(totals.rolled).toBe(totals.raw);
  });

  it('read an hour that late points made dirty from rollup_1m, not from its stale rollup_1h row', async () => {
    const stale = await ctx.db.one<{ c: number }>(
      `SELECT sum(count)::int AS c FROM rollup_1h WHERE bucket = $1`,
      [new Date(lateHour)],
    );
    const raw = await ctx.db.one<{ c: number }>(
      `SELECT count(*)::int AS c FROM points WHERE ts >= $1 AND ts < $2`,
      [new Date(lateHour), new Date(lateHour + HOUR)],
    );
    expect(stale.c).toBeLessThan(raw.c);
    const got = await trend(ctx.db, {
      metric: 'latency_ms',
      from: lateHour - HOUR,
      to: lateHour + 2 * HOUR,
      resolutionMs: HOUR,
    });
    const exact = await ctx.db.one<{ c: number }>(
      `SELECT count(*)::int AS c FROM points p JOIN series s ON s.id = p.series_id WHERE s.metric_name = 'latency_ms' AND ts >= $1 AND ts < $2`,
      [new Date(lateHour), new Date(lateHour + HOUR)],
    );
    expect(got.find((g) => g.t === new Date(lateHour).toISOString())?.count).toBe(exact.c);
    const sums = await summary(ctx.db, { from: lateHour, to: lateHour + HOUR });
    expect(sums.reduce((n, m) => n + m.count, 0)).toBe(raw.c);
  });

  it('rebuild rollup_1h for the closed hours, including the one late points touched', async () => {
    const before = await ctx.db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM rollup_dirty_hours`,
    );
    expect(before.n).toBeGreaterThan(0);
    const r = await aggregate({ db: ctx.db, log: ctx.log }, { reason: 'manual' });
    expect(r.hours).toBeGreaterThanOrEqual(1);
    const mismatched = await ctx.db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM rollup_1h h
       JOIN (SELECT series_id, date_trunc('hour', bucket, 'UTC') AS hour, sum(count) AS c FROM rollup_1m GROUP BY 1, 2) m
         ON m.series_id = h.series_id AND m.hour = h.bucket
       WHERE m.c <> h.count`,
    );
    expect(mismatched.n).toBe(0);
    const late = await ctx.db.one<{ c: number }>(
      `SELECT sum(count)::int AS c FROM rollup_1h WHERE bucket = $1`,
      [new Date(lateHour)],
    );
    const raw = await ctx.db.one<{ c: number }>(
      `SELECT count(*)::int AS c FROM points WHERE ts >= $1 AND ts < $2`,
      [new Date(lateHour), new Date(lateHour + HOUR)],
    );
    expect(late.c).toBe(raw.c);
    // Only the current, still open hour may stay dirty.
    const left = await ctx.db.manyOrNone<{ bucket: Date }>(`SELECT bucket FROM rollup_dirty_hours`);
    expect(left.every((d) => d.bucket.getTime() + HOUR > Date.now())).toBe(true);
  });

  for (const [label, span] of [
    ['1h', HOUR],
    ['24h', DAY],
    ['7d', 7 * DAY],
  ] as const) {
    it(`summary over ${label} matches the raw rows`, async () => {
      const from = end - span;
      const got = await summary(ctx.db, { from, to: end });
      const exact = await ctx.db.many<Exact & { metric_name: string }>(
        `SELECT s.metric_name, ${EXACT} FROM points p JOIN series s ON s.id = p.series_id
         WHERE p.ts >= $1 AND p.ts < $2 GROUP BY s.metric_name ORDER BY 1`,
        [new Date(from), new Date(end)],
      );
      expect(got.map((g) => g.metric_name)).toEqual(exact.map((e) => e.metric_name));
      got.forEach((g, i) => expectClose(g, exact[i]!, `${label} ${g.metric_name}`));
    });

    for (const [res, resMs] of [
      ['1m', MINUTE],
      ['5m', 5 * MINUTE],
      ['1h', HOUR],
      ['1d', DAY],
    ] as const) {
      if (resMs > span || span / resMs > 2_000) continue;
      it(`trend over ${label} at ${res} matches the raw rows, bucket by bucket`, async () => {
        const from = end - span;
        const got = await trend(ctx.db, {
          metric: 'latency_ms',
          from,
          to: end,
          resolutionMs: resMs,
        });
        const exact = await ctx.db.many<Exact & { t: Date }>(
          `SELECT to_timestamp(floor(extract(epoch FROM p.ts) / $3) * $3) AS t, ${EXACT}
           FROM points p JOIN series s ON s.id = p.series_id
           WHERE s.metric_name = 'latency_ms' AND p.ts >= $1 AND p.ts < $2 GROUP BY 1 ORDER BY 1`,
          [new Date(from), new Date(end), resMs / 1_000],
        );
        expect(got.map((g) => g.t)).toEqual(exact.map((e) => e.t.toISOString()));
        got.forEach((g, i) => expectClose(g, exact[i]!, `${label}/${res} ${g.t}`));
      });
    }
  }

  it('filters a trend by instance, agent and tags', async () => {
    const from = end - DAY;
    const got = await trend(ctx.db, {
      metric: 'latency_ms',
      from,
      to: end,
      resolutionMs: HOUR,
      instanceId: 'i-2',
      tags: { host: 'b' },
    });
    const exact = await ctx.db.one<{ count: number }>(
      `SELECT count(*)::int AS count FROM points p JOIN series s ON s.id = p.series_id
       WHERE s.metric_name = 'latency_ms' AND s.instance_id = 'i-2' AND s.tags @> '{"host":"b"}' AND p.ts >= $1 AND p.ts < $2`,
      [new Date(from), new Date(end)],
    );
    expect(got.reduce((n, g) => n + g.count, 0)).toBe(exact.count);
    const none = await trend(ctx.db, {
      metric: 'latency_ms',
      from,
      to: end,
      resolutionMs: HOUR,
      sourceAgentId: '7',
    });
    expect(none).toEqual([]);
  });
});
