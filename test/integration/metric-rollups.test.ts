// Metric-level rollups: an installation at migration 007 upgrades in place, and every answer
// (counts, sums, min, max, p50–p99, series, latest value) is the same before and after; the
// compaction step changes no answer and loses nothing written while it runs; backfill keeps
// the metric rows equal to the per-series ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgp } from '../../src/infra/db.js';
import { cover, coverBuckets } from '../../src/metrics/metric-rollup.js';
import {
  compactMetricRollups,
  completeMetricRollups,
} from '../../src/metrics/metric-rollup-upkeep.js';
import { sql } from '../../src/metrics/queries.js';
import { aggregateMinutes } from '../../src/metrics/rollup.js';
import {
  summary,
  trend,
  type MetricSummary,
  type TrendPoint,
} from '../../src/metrics/rollup-queries.js';
import { migrate } from '../../src/metrics/schema.js';
import { quantiles, type Sketch } from '../../src/metrics/sketch.js';
import { PointStore, updateRollups } from '../../src/metrics/store.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { MINUTE, HOUR, DAY } from '../../src/infra/time.js';

// What readers ran at migration 007, kept as they were: the reference for "same answers".
const fixture = (name: string) =>
  new pgp.QueryFile(new URL(`../fixtures/${name}`, import.meta.url).pathname, { minify: true });
const V007_SUMMARY = fixture('v007_rollup_summary.sql');
const V007_TREND = fixture('v007_rollup_trend.sql');

let ctx: TestContext;
let end: number;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

interface OldSeries {
  id: number;
  metric: string;
  base: number;
}

/** Writes per-series rollup_1m rows as a 007-era flush did (several partial rows a minute). */
async function writeOld(series: OldSeries[], from: number, to: number, seed: number) {
  const r = rng(seed);
  const ids: number[] = [];
  const ts: number[] = [];
  const values: number[] = [];
  for (const s of series)
    for (let t = from; t < to; t += 20_000 + Math.floor(r() * 30_000)) {
      ids.push(s.id);
      ts.push(t);
      values.push(s.base * Math.exp(r() - 0.5) * (r() < 0.02 ? 8 : 1));
    }
  // Two halves, so most minutes get two partial rows.
  const half = Math.floor(ids.length / 2);
  for (const [a, b] of [
    [0, half],
    [half, ids.length],
  ] as const) {
    const m = aggregateMinutes({
      seriesId: ids.slice(a, b),
      ts: ts.slice(a, b),
      value: values.slice(a, b),
    });
    await updateRollups(ctx.db, m);
  }
}

interface Answer {
  count: number;
  sum: number;
  min: number;
  max: number;
  p: number[];
}

const QS = [0.5, 0.9, 0.95, 0.99];

function oldAnswer(row: {
  count: string;
  sum: number;
  min: number;
  max: number;
  sketch: Sketch;
}): Answer {
  return {
    count: Number(row.count),
    sum: row.sum,
    min: row.min,
    max: row.max,
    p: quantiles(row.sketch, QS, row),
  };
}

function newAnswer(s: MetricSummary | TrendPoint): Answer {
  return {
    count: s.count,
    sum: s.avg * s.count,
    min: s.min,
    max: s.max,
    p: [s.p50, s.p90, s.p95, s.p99],
  };
}

function expectSame(got: Answer, want: Answer, where: string) {
  expect(got.count, where).toBe(want.count);
  expect(got.min, where).toBe(want.min);
  expect(got.max, where).toBe(want.max);
  expect(Math.abs(got.sum - want.sum) / Math.abs(want.sum), where).toBeLessThan(1e-9);
  expect(got.p, where).toEqual(want.p);
}

const RANGES: [string, number][] = [
  ['1h', HOUR],
  ['24h', DAY],
  ['3d', 3 * DAY],
];
const RESOLUTIONS: [string, number][] = [
  ['1m', MINUTE],
  ['5m', 5 * MINUTE],
  ['7m', 7 * MINUTE],
  ['1h', HOUR],
  ['1d', DAY],
];

describe('upgrading from migration 007', () => {
  const before = new Map<string, unknown>();

  beforeAll(async () => {
    ctx = await createTestContext('metric_rollups');
    end = Math.floor(Date.now() / MINUTE) * MINUTE - 7 * MINUTE;
    await ctx.db.none('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    await migrate(ctx.db, ctx.log, { upTo: 7 });
    const series: OldSeries[] = [];
    for (const [metric, base] of [
      ['latency_ms', 40],
      ['queue_depth', 3],
    ] as const)
      for (const host of ['a', 'b', 'c']) {
        const { id } = await ctx.db.one<{ id: number }>(
          `INSERT INTO series (fingerprint, metric_name, tags) VALUES (gen_random_uuid(), $1, $2) RETURNING id`,
          [metric, { host }],
        );
        series.push({ id, metric, base });
      }
    await writeOld(series, end - 3 * DAY - 2 * HOUR, end, 1);
    // Build rollup_1h for every closed hour as the 007 aggregate job did, then make one hour
    // dirty again with late points (readers then take that hour from rollup_1m).
    const hours = await ctx.db.map(
      `SELECT bucket FROM rollup_dirty_hours WHERE bucket + interval '1 hour' <= now() ORDER BY 1`,
      [],
      (r: { bucket: Date }) => r.bucket,
    );
    await ctx.db.none(sql.rollup1hBuild, [hours]);
    await ctx.db.none('DELETE FROM rollup_dirty_hours WHERE bucket = ANY($1::timestamptz[])', [
      hours,
    ]);
    const late = Math.floor((end - 20 * HOUR) / HOUR) * HOUR;
    await writeOld(series.slice(0, 2), late, late + HOUR, 2);

    for (const [label, span] of RANGES) {
      before.set(
        `summary ${label}`,
        await ctx.db.manyOrNone(V007_SUMMARY, [new Date(end - span), new Date(end)]),
      );
      for (const [res, resMs] of RESOLUTIONS) {
        if (resMs > span || span / resMs > 2_000) continue;
        before.set(
          `trend ${label}/${res}`,
          await ctx.db.manyOrNone(V007_TREND, [
            'latency_ms',
            new Date(end - span),
            new Date(end),
            resMs / 1_000,
            resMs % HOUR === 0,
            null,
            null,
            null,
          ]),
        );
      }
    }
    await migrate(ctx.db, ctx.log);
  }, 120_000);

  afterAll(async () => {
    await ctx?.cleanup();
  });

  it('numbers every existing series within its metric and builds rows at every width', async () => {
    const ordinals = await ctx.db.many<{ metric_name: string; ordinals: number[] }>(
      `SELECT metric_name, array_agg(ordinal ORDER BY ordinal) AS ordinals FROM series GROUP BY 1 ORDER BY 1`,
    );
    expect(ordinals).toEqual([
      { metric_name: 'latency_ms', ordinals: [0, 1, 2] },
      { metric_name: 'queue_depth', ordinals: [0, 1, 2] },
    ]);
    const widths = await ctx.db.many<{ width: number; count: string }>(
      `SELECT width, sum(count) AS count FROM metric_rollup GROUP BY 1 ORDER BY 1`,
    );
    const raw = await ctx.db.one<{ n: string }>(`SELECT sum(count) AS n FROM rollup_1m`);
    // Every width holds every point once (the day rows too, built from the hour rows).
    expect(widths.map((w) => w.width)).toEqual([60, 300, 3600, 86400]);
    for (const w of widths) expect(w.count, `width ${w.width}`).toBe(raw.n);
  });

  for (const [label, span] of RANGES) {
    it(`answers the ${label} summary exactly as before`, async () => {
      const got = await summary(ctx.db, { from: end - span, to: end });
      const want = before.get(`summary ${label}`) as (Parameters<typeof oldAnswer>[0] & {
        metric_name: string;
        series: number;
        last_ts: Date;
      })[];
      expect(want.map((w) => w.metric_name)).toEqual(['latency_ms', 'queue_depth']);
      expect(got.map((g) => g.metric_name)).toEqual(want.map((w) => w.metric_name));
      got.forEach((g, i) => {
        const w = want[i]!;
        expectSame(newAnswer(g), oldAnswer(w), `${label} ${g.metric_name}`);
        expect(g.series).toBe(w.series);
        expect(g.last_at).toBe(w.last_ts.toISOString());
      });
    });

    for (const [res, resMs] of RESOLUTIONS) {
      if (resMs > span || span / resMs > 2_000) continue;
      it(`answers the ${label}/${res} trend exactly as before, bucket by bucket`, async () => {
        const got = await trend(ctx.db, {
          metric: 'latency_ms',
          from: end - span,
          to: end,
          resolutionMs: resMs,
        });
        const want = before.get(`trend ${label}/${res}`) as (Parameters<typeof oldAnswer>[0] & {
          t: Date;
        })[];
        expect(want.length).toBeGreaterThanOrEqual(Math.floor(span / resMs));
        expect(got.map((g) => g.t)).toEqual(want.map((w) => w.t.toISOString()));
        got.forEach((g, i) => expectSame(newAnswer(g), oldAnswer(want[i]!), `${res} ${g.t}`));
      });
    }
  }

  it('numbers a new series of an existing metric after the old ones', async () => {
    const store = new PointStore(ctx.db);
    await store.write([
      {
        series: [
          {
            fingerprint: '00000000-0000-4000-8000-000000000001',
            metricName: 'latency_ms',
            sourceAgentId: null,
            instanceId: null,
            tagsJson: '{"host":"d"}',
          },
        ],
        seriesIndex: new Uint32Array(1),
        ts: new Float64Array([end - MINUTE]),
        value: new Float64Array([12.5]),
      },
    ]);
    const s = await ctx.db.one<{ ordinal: number }>(
      `SELECT ordinal FROM series WHERE tags = '{"host":"d"}'`,
    );
    expect(s.ordinal).toBe(3);
    const [m] = (await summary(ctx.db, { from: end - HOUR, to: end })).filter(
      (x) => x.metric_name === 'latency_ms',
    );
    expect(m?.series).toBe(4);
  });
  it('stores the quantiles of rows written at 008 (migration 009), and no answer changes', async () => {
    const probes = [
      [DAY, 5 * MINUTE],
      [3 * DAY, HOUR],
      [2 * HOUR, MINUTE],
    ] as const;
    const read = () =>
      Promise.all(
        probes.map(([span, resolutionMs]) =>
          trend(ctx.db, { metric: 'latency_ms', from: end - span, to: end, resolutionMs }),
        ),
      );
    const stored = await read();
    await ctx.db.none('UPDATE metric_rollup SET q50 = NULL, q90 = NULL, q95 = NULL, q99 = NULL');
    const fromSketches = await read();
    expect(fromSketches).toEqual(stored);
    await ctx.db.tx((t) => completeMetricRollups(t, ctx.log));
    const missing = await ctx.db.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM metric_rollup WHERE q50 IS NULL OR q99 IS NULL',
    );
    expect(missing.n).toBe(0);
    const rows = await ctx.db.one<{ n: number }>('SELECT count(*)::int AS n FROM metric_rollup');
    expect(rows.n).toBeGreaterThan(1_000);
    expect(await read()).toEqual(stored);
  });
});

describe('compaction', () => {
  let c: TestContext;
  let at: number;

  beforeAll(async () => {
    c = await createTestContext('metric_compact');
    at = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR;
  });
  afterAll(async () => {
    await c?.cleanup();
  });

  const write = (store: PointStore, from: number, n: number, seed: number) => {
    const r = rng(seed);
    const entry = {
      series: ['a', 'b'].map((host, i) => ({
        fingerprint: `00000000-0000-4000-8000-00000000000${i}`,
        metricName: 'svc_latency',
        sourceAgentId: null,
        instanceId: null,
        tagsJson: JSON.stringify({ host }),
      })),
      seriesIndex: new Uint32Array(n),
      ts: new Float64Array(n),
      value: new Float64Array(n),
    };
    for (let i = 0; i < n; i++) {
      entry.seriesIndex[i] = i % 2;
      entry.ts[i] = from + Math.floor(i / 2) * 1_000;
      entry.value[i] = 10 + 90 * r();
    }
    return store.write([entry]);
  };

  it('merges partial rows into one row per key without changing any answer', async () => {
    const store = new PointStore(c.db);
    for (let k = 0; k < 6; k++) await write(store, at + k * 1_800_000, 3_600, k);
    const partial = await c.db.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM metric_rollup_partial',
    );
    expect(partial.n).toBeGreaterThan(0);
    const q = { from: at - HOUR, to: at + 4 * HOUR };
    const sBefore = await summary(c.db, q);
    const tBefore = await trend(c.db, { metric: 'svc_latency', ...q, resolutionMs: 5 * MINUTE });
    const r = await compactMetricRollups(c.db, { batch: 100 });
    expect(r.partial).toBe(partial.n);
    const left = await c.db.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM metric_rollup_partial',
    );
    expect(left.n).toBe(0);
    const dupes = await c.db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM metric_rollup GROUP BY metric_id, width, bucket HAVING count(*) > 1) d`,
    );
    expect(dupes.n).toBe(0);
    const sAfter = await summary(c.db, q);
    expect(sAfter.map(({ sum: _s, avg: _a, ...rest }) => rest)).toEqual(
      sBefore.map(({ sum: _s, avg: _a, ...rest }) => rest),
    );
    sAfter.forEach((s, i) => expect(Math.abs(s.sum / sBefore[i]!.sum - 1)).toBeLessThan(1e-12));
    const tAfter = await trend(c.db, { metric: 'svc_latency', ...q, resolutionMs: 5 * MINUTE });
    expect(tAfter.map(({ avg: _a, ...rest }) => rest)).toEqual(
      tBefore.map(({ avg: _a, ...rest }) => rest),
    );
    tAfter.forEach((t, i) => expect(Math.abs(t.avg / tBefore[i]!.avg - 1)).toBeLessThan(1e-12));
    const raw = await c.db.one<{ n: number }>('SELECT count(*)::int AS n FROM points');
    expect(sBefore[0]?.count).toBe(raw.n);
  });

  it('loses nothing that flushes write while it runs', async () => {
    const store = new PointStore(c.db);
    const writes: Promise<unknown>[] = [];
    const compactions: Promise<unknown>[] = [];
    for (let k = 0; k < 8; k++) {
      writes.push(write(store, at + 4 * HOUR + k * 60_000, 120, 100 + k));
      compactions.push(compactMetricRollups(c.db, { batch: 7 }));
    }
    await Promise.all([...writes, ...compactions]);
    await compactMetricRollups(c.db);
    const counts = await c.db.many<{ width: number; n: string }>(
      `SELECT width, sum(count) AS n FROM (SELECT width, count FROM metric_rollup UNION ALL SELECT width, count FROM metric_rollup_partial) r GROUP BY 1 ORDER BY 1`,
    );
    const raw = await c.db.one<{ n: string }>('SELECT count(*)::text AS n FROM points');
    expect(counts.map((x) => x.n)).toEqual([raw.n, raw.n, raw.n, raw.n]);
  });
});

describe('covering a range', () => {
  it('tiles a range with the widest aligned buckets, and each output bucket on its own', () => {
    const from = Date.UTC(2026, 0, 1, 22, 43);
    const to = from + 3 * DAY;
    const segs = cover(from, to);
    expect(segs.map((s) => s.widthMs / MINUTE)).toEqual([1, 5, 60, 1440, 60, 5, 1]);
    let covered = 0;
    for (const s of segs) {
      expect(s.from % s.widthMs).toBe(0);
      expect(s.to % s.widthMs).toBe(0);
      covered += s.to - s.from;
    }
    expect(covered).toBe(to - from);
    // 7-minute buckets: no segment crosses an output bucket's edge.
    for (const s of coverBuckets(from, from + 2 * HOUR, 7 * MINUTE))
      for (let b = s.from; b < s.to; b += s.widthMs)
        expect(Math.floor(b / (7 * MINUTE))).toBe(Math.floor((b + s.widthMs - 1) / (7 * MINUTE)));
  });
});
