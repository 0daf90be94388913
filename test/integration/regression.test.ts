// Regression detection on synthetic data with known answers: steps of +25 %, +12 %, +7 % and
// +3 % twelve hours ago, 50 noise-only metrics with a daily cycle, a zero baseline, a metric
// where lower is worse, and a regression that stays open across runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  regression,
  type RegressionConfig,
  type RegressionRun,
} from '../../src/jobs/regression.js';
import type { DecodedEntry } from '../../src/metrics/buffer.js';
import { seriesDef } from '../../src/metrics/series.js';
import { PointStore } from '../../src/metrics/store.js';
import { start } from '../../src/main.js';
import { rebuildHours } from '../../src/jobs/aggregate.js';
import { sql } from '../../src/metrics/queries.js';
import { DashboardCache } from '../../src/cache/dashboard-cache.js';
import { runRegression, table } from '../../scripts/regression.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { MINUTE, DAY } from '../../src/infra/time.js';

let ctx: TestContext;
let now: number;
let step: number;
let run: RegressionRun;

const config: RegressionConfig = {
  baselineMs: 7 * DAY,
  recentMs: DAY,
  criticalPercent: 20,
  warningPercent: 10,
  minChangePercent: 5,
  alpha: 0.01,
  minSegmentMinutes: 60,
  lowerIsWorse: ['throughput_rps'],
};

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** One value a minute for 8 days: base × daily cycle × noise, times `factor` after the step. */
function entry(
  name: string,
  base: number,
  factor: number,
  seed: number,
  cycle = 0.2,
  noise = 0.1,
  zeroBefore = false,
): DecodedEntry {
  const def = seriesDef({
    metricName: name,
    sourceAgentId: null,
    instanceId: null,
    tags: { host: 'h1' },
  });
  const r = rng(seed);
  const n = 8 * 1440;
  const out: DecodedEntry = {
    series: [def],
    seriesIndex: new Uint32Array(n),
    ts: new Float64Array(n),
    value: new Float64Array(n),
  };
  const t0 = now - 8 * DAY;
  for (let i = 0; i < n; i++) {
    const t = t0 + i * MINUTE + 1_000;
    // The cycle's phase is tied to `now` (peak 6 h before it), not to the wall clock's time of
    // day: with a UTC-tied phase the recent day's p95 moved by less than 5 % when the suite
    // ran in the UTC evening, and the step tests failed by the clock.
    const daily = 1 + cycle * Math.sin((2 * Math.PI * (t - now + 12 * 3_600_000)) / DAY);
    const after = t >= step;
    let v = base * daily * (1 + noise * (2 * r() - 1)) * (after ? factor : 1);
    if (zeroBefore) v = after ? 5 + r() : 0;
    out.ts[i] = t;
    out.value[i] = v;
  }
  return out;
}

beforeAll(async () => {
  ctx = await createTestContext('regression');
  now = Math.floor(Date.now() / MINUTE) * MINUTE;
  step = now - 12 * 3_600_000;
  const entries: DecodedEntry[] = [
    entry('step25_a', 100, 1.25, 1),
    entry('step25_b', 40, 1.25, 2),
    entry('step25_c', 7, 1.25, 3),
    entry('step12', 100, 1.12, 4),
    entry('step7', 100, 1.07, 5),
    entry('step3', 100, 1.03, 6),
    entry('zero_baseline', 0, 1, 7, 0, 0, true),
    entry('throughput_rps', 500, 0.7, 8),
    entry('improved_cpu', 50, 0.7, 9),
    ...Array.from({ length: 50 }, (_, i) => entry(`noise_${i}`, 10 + i, 1, 100 + i)),
  ];
  const store = new PointStore(ctx.db);
  for (const e of entries) await store.write([e]);
  run = await regression(
    { db: ctx.db, log: ctx.log, config, now: () => now },
    { reason: 'manual' },
  );
}, 180_000);

afterAll(async () => {
  await ctx?.cleanup();
});

const find = (name: string) =>
  run.entries.find((e) => e.metric_name === name && e.series_id === null);

describe('regression detection', () => {
  it.each(['step25_a', 'step25_b', 'step25_c'])(
    '%s: a +25 percent step twelve hours ago is CRITICAL, judged by its full size',
    (name) => {
      const e = find(name);
      expect(e?.regression_severity).toBe('CRITICAL');
      expect(e?.shift_percent).toBeGreaterThan(22);
      expect(e?.shift_percent).toBeLessThan(28);
      expect(e?.avg_change_percent).toBeGreaterThan(10);
      expect(e?.avg_change_percent).toBeLessThan(15);
      expect(e?.direction).toBe('up');
      expect(Math.abs(Date.parse(e?.change_point ?? '') - step)).toBeLessThanOrEqual(10 * MINUTE);
      expect(e?.p_value).toBeLessThan(0.01);
      expect(e?.p95_change_percent).toBeGreaterThan(5);
    },
  );

  it('+12 % is WARNING, +7 % is listed as NORMAL, +3 % is not listed', () => {
    expect(find('step12')?.regression_severity).toBe('WARNING');
    expect(find('step7')?.regression_severity).toBe('NORMAL');
    expect(find('step7')?.shift_percent).toBeGreaterThan(5);
    expect(find('step3')).toBeUndefined();
  });

  it('50 noise-only metrics with a daily cycle raise nothing', () => {
    const loud = run.entries.filter(
      (e) => e.metric_name.startsWith('noise_') && e.regression_severity !== 'NORMAL',
    );
    expect(loud).toEqual([]);
  });

  it('a zero baseline is reported as such, with the absolute change and no division', () => {
    const e = find('zero_baseline');
    expect(e?.baseline_zero).toBe(true);
    expect(e?.avg_change_percent).toBeNull();
    expect(e?.shift_percent).toBeNull();
    expect(e?.change_absolute).toBeGreaterThan(2);
    expect(e?.regression_severity).toBe('WARNING');
  });

  it('a drop is the regression where lower is worse, and an improvement elsewhere', () => {
    expect(find('throughput_rps')).toMatchObject({
      regression_severity: 'CRITICAL',
      direction: 'down',
    });
    expect(find('improved_cpu')).toMatchObject({
      regression_severity: 'NORMAL',
      direction: 'down',
    });
  });

  it('keeps the report, and one regression stays one regression across runs', async () => {
    const stored = await ctx.db.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM regression_reports WHERE run_id = $1',
      [run.run_id],
    );
    expect(stored.n).toBe(run.listed);
    const later = await regression(
      { db: ctx.db, log: ctx.log, config, now: () => now + 5 * MINUTE },
      { reason: 'manual' },
    );
    const before = find('step25_a');
    const after = later.entries.find((e) => e.metric_name === 'step25_a' && e.series_id === null);
    expect(after?.regression_id).toBe(before?.regression_id);
    expect(after?.first_seen).toBe(before?.first_seen);
    expect(Date.parse(after?.last_seen ?? '')).toBeGreaterThan(Date.parse(before?.last_seen ?? ''));
    const open = await ctx.db.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM regressions WHERE closed_at IS NULL',
    );
    expect(open.n).toBe(later.counts.CRITICAL + later.counts.WARNING);
  });
});

describe('reports through the API and the command', () => {
  const ADMIN = 'admin-token-0123456789';

  it('GET /regressions serves the latest report; ?since= the history; POST /regressions/run queues one', async () => {
    const api = await start(ctx.config({ PULSE_ROLE: 'api', ADMIN_TOKEN: ADMIN }), ctx.log);
    try {
      const base = `http://127.0.0.1:${api.port}/api/v1`;
      const latestRes = await fetch(`${base}/regressions`);
      const latestText = await latestRes.text();
      expect(latestRes.status, latestText).toBe(200);
      const latest = JSON.parse(latestText) as {
        run: { run_id: string; listed: number };
        entries: { metric_name: string; regression_severity: string; first_seen: string | null }[];
        counts: Record<string, number>;
      };
      const lastRun = await ctx.db.one<{ run_id: string; listed: number }>(
        'SELECT run_id::text, listed FROM regression_runs ORDER BY computed_at DESC LIMIT 1',
      );
      expect(latest.run.run_id).toBe(lastRun.run_id);
      expect(latest.entries).toHaveLength(lastRun.listed);
      expect(latest.entries[0]?.regression_severity).toBe('CRITICAL');
      expect(latest.entries[0]?.first_seen).not.toBeNull();
      expect(latest.counts.CRITICAL).toBe(4);

      const since = new Date(now - DAY).toISOString();
      const history = (await (
        await fetch(`${base}/regressions?since=${encodeURIComponent(since)}`)
      ).json()) as { entries: unknown[] };
      const all = await ctx.db.one<{ n: number }>(
        'SELECT count(*)::int AS n FROM regression_reports',
      );
      expect(history.entries).toHaveLength(all.n);

      const bad = await fetch(`${base}/regressions?since=yesterday`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ errors: [{ field: 'since' }] });

      expect((await fetch(`${base}/regressions/run`, { method: 'POST' })).status).toBe(401);
      const queued = await fetch(`${base}/regressions/run`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(queued.status).toBe(202);
      expect(await queued.json()).toMatchObject({
        job_id: expect.any(String) as string,
        queue: 'regression',
      });
    } finally {
      await api.stop();
    }
  });

  it('a finished run replaces the cached report at once, in every API process', async () => {
    // No warm pass during the test: only the run itself can refresh the cached report.
    const env = { PULSE_ROLE: 'api', CACHE_TTL: '1h', WARM_INTERVAL: '1h' };
    const apis = [await start(ctx.config(env), ctx.log), await start(ctx.config(env), ctx.log)];
    try {
      const latest = async (i: number) => {
        const r = await fetch(`http://127.0.0.1:${apis[i]?.port}/api/v1/regressions`);
        return (await r.json()) as { served_from: string; run: { run_id: string } };
      };
      // Both processes hold the current report in L1.
      for (const i of [0, 1]) {
        await latest(i);
        expect((await latest(i)).served_from).toBe('l1');
      }
      // A run later than every earlier one, as the regression worker makes it.
      const cache = new DashboardCache(ctx.redis, ctx.keys, ctx.log);
      const run = await regression(
        {
          db: ctx.db,
          log: ctx.log,
          config,
          now: () => now + 10 * MINUTE,
          cache: { cache, ttlMs: 3_600_000 },
        },
        { reason: 'manual' },
      );
      // Invalidation travels by pub/sub; give it a moment, far less than the second promised.
      await new Promise((r) => setTimeout(r, 200));
      for (const i of [0, 1]) expect((await latest(i)).run.run_id).toBe(run.run_id);
    } finally {
      await Promise.all(apis.map((a) => a.stop()));
    }
  });

  it('npm run regression waits for a run and prints it as a table', async () => {
    const config = ctx.config();
    const r = await runRegression({
      db: ctx.db,
      redisUrl: ctx.redisUrl,
      config: {
        ...config,
        regression: { ...config.regression, baselineMs: 7 * DAY, recentMs: DAY },
      },
    });
    const text = table(r);
    expect(text.split('\n')[0]).toMatch(/analysed, \d+ listed \(\d+ CRITICAL/);
    expect(text).toContain('step25_a');
  });
});

describe('stored regression slots', () => {
  it('a run reads the same report from the slots the aggregate job stored as from rollup_1m', async () => {
    // The first run computed every slot from rollup_1m (every hour was dirty). Close them as
    // the aggregate job does (without its metric-level compaction, which is not the point here).
    await ctx.db.tx(async (t) => {
      const due = await t.manyOrNone<{ bucket: Date }>(sql.rollupDirtyCandidates, [
        new Date(),
        10_000,
      ]);
      const taken = await t.manyOrNone<{ bucket: Date }>(sql.rollupDirtyTake, [
        due.map((r) => r.bucket),
      ]);
      await rebuildHours(
        t,
        taken.map((r) => r.bucket),
      );
    });
    // One slot stored for every series and 15 minutes with data in a closed hour.
    const counts = await ctx.db.one<{ stored: number; expected: number }>(
      `SELECT (SELECT sum(length(slots) / 54)::int FROM regression_slots) AS stored,
              (SELECT count(DISTINCT (series_id, date_bin('15 minutes', bucket, timestamptz '2000-01-01')))::int
               FROM rollup_1m
               WHERE date_trunc('hour', bucket, 'UTC') NOT IN (SELECT bucket FROM rollup_dirty_hours)) AS expected`,
    );
    expect(counts.expected).toBeGreaterThan(60 * 7 * 96);
    expect(counts.stored).toBe(counts.expected);

    const again = await regression(
      { db: ctx.db, log: ctx.log, config, now: () => now },
      { reason: 'manual' },
    );
    const key = (e: RegressionRun['entries'][number]) => `${e.metric_name}/${e.series_id}`;
    expect(again.entries.map(key).sort()).toEqual(run.entries.map(key).sort());
    for (const e of again.entries) {
      const first = run.entries.find((x) => key(x) === key(e));
      expect(e.regression_severity).toBe(first?.regression_severity);
      expect(e.change_point).toBe(first?.change_point);
      expect(e.shift_percent ?? 0).toBeCloseTo(first?.shift_percent ?? 0, 9);
      expect(e.baseline_avg).toBeCloseTo(first?.baseline_avg ?? NaN, 9);
    }
  }, 120_000);
});

describe('bounded by the series limits', () => {
  it('judges at most MAX_SERIES_PER_METRIC series of a metric on their own, and says how many it skipped', async () => {
    // One metric with four series (hosts h1..h4), each a +25 % step; every metric is judged whole.
    const fleet = [1, 2, 3, 4].map((h) => {
      const e = entry('fleet_latency', 50 + h, 1.25, 500 + h);
      const def = seriesDef({
        metricName: 'fleet_latency',
        sourceAgentId: null,
        instanceId: null,
        tags: { host: `h${h}` },
      });
      return { ...e, series: [def] };
    });
    const store = new PointStore(ctx.db);
    for (const e of fleet) await store.write([e]);
    const open = await regression(
      { db: ctx.db, log: ctx.log, config, now: () => now },
      { reason: 'manual' },
    );
    const bounded = await regression(
      {
        db: ctx.db,
        log: ctx.log,
        config: { ...config, seriesLimits: { maxPerMetric: 2, maxSeries: 1_000 } },
        now: () => now,
      },
      { reason: 'manual' },
    );
    expect(open.skipped_series).toBe(0);
    expect(bounded.skipped_series).toBe(2);
    expect(open.analysed - bounded.analysed).toBe(2);
    const ofFleet = (r: RegressionRun) =>
      r.entries.filter((e) => e.metric_name === 'fleet_latency');
    // The metric whole plus 4 series, against the metric whole plus 2.
    expect(ofFleet(open)).toHaveLength(5);
    expect(ofFleet(bounded)).toHaveLength(3);
    expect(ofFleet(bounded).find((e) => e.series_id === null)?.regression_severity).toBe(
      'CRITICAL',
    );
    // MAX_SERIES bounds the series judged on their own across metrics: 1 in all here.
    const total = await regression(
      {
        db: ctx.db,
        log: ctx.log,
        config: { ...config, seriesLimits: { maxPerMetric: 2, maxSeries: 1 } },
        now: () => now,
      },
      { reason: 'manual' },
    );
    expect(total.skipped_series).toBe(3);
    expect(total.entries.filter((e) => e.series_id !== null)).toHaveLength(1);
  }, 120_000);
});
