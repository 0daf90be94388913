// The regression job: for every metric (all its series together) and every series of a metric
// with several, compares the recent window with the baseline (src/metrics/regression.ts),
// keeps the listed entries as a report, and tracks open regressions across runs.
import { randomUUID } from 'node:crypto';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { pgp } from '../infra/db.js';
import { sql } from '../metrics/queries.js';
import {
  analyse,
  type Analysis,
  type MinuteValue,
  type RegressionSettings,
  type Severity,
} from '../metrics/regression.js';
import { readMetricBuckets, readMetricRange } from '../metrics/metric-rollup.js';
import { quantiles } from '../metrics/sketch.js';
import { SLOT_MS } from '../metrics/seasonal.js';
import { makeEntry, type DashboardCache } from '../cache/dashboard-cache.js';
import { cacheName } from '../cache/names.js';
import { regressionView } from '../metrics/dashboard.js';

export interface RegressionPayload {
  reason: 'schedule' | 'manual';
}

export interface RegressionConfig extends RegressionSettings {
  baselineMs: number;
  recentMs: number;
  /** Metrics whose drop is the regression (throughput, hit ratios, up). */
  lowerIsWorse: string[];
}

export interface RegressionDeps {
  db: Db;
  log: Logger;
  config: RegressionConfig;
  now?: () => number;
  /**
   * Where the dashboard reads reports: when given, a run that commits replaces the cached
   * report at once, in every API process (their L1 copies are dropped through the cache's
   * invalidation channel), so nobody waits for the next warm pass.
   */
  cache?: { cache: DashboardCache; ttlMs: number };
}

export interface ReportEntry extends Omit<Analysis, 'listed'> {
  metric_name: string;
  series_id: number | null;
  series: {
    source_agent_id: string | null;
    instance_id: string | null;
    tags: Record<string, string>;
  } | null;
  p95_change_percent: number | null;
  regression_id: number | null;
  first_seen: string | null;
  last_seen: string | null;
  computed_at: string;
}

export interface RegressionRun {
  run_id: string;
  computed_at: string;
  analysed: number;
  listed: number;
  counts: Record<Severity, number>;
  entries: ReportEntry[];
}

const MINUTE = 60_000;

interface Unit {
  metric: string;
  metricId: number;
  ids: number[];
  series: ReportEntry['series'];
  seriesId: number | null;
}

const reportColumns = new pgp.helpers.ColumnSet(
  [
    { name: 'run_id', cast: 'uuid' },
    { name: 'computed_at', cast: 'timestamptz' },
    'metric_name',
    { name: 'series_id', cast: 'bigint' },
    {
      name: 'series',
      cast: 'jsonb',
      init: (c: { value: unknown }) => (c.value === null ? null : JSON.stringify(c.value)),
    },
    'baseline_avg',
    'recent_avg',
    'avg_change_percent',
    'p95_change_percent',
    'shift_percent',
    'change_absolute',
    'shift_absolute',
    { name: 'change_point', cast: 'timestamptz' },
    'p_value',
    'direction',
    'regression_severity',
    'baseline_zero',
    'seasonality',
    // Infinity (a move off a noiseless baseline) is stored as a float8 infinity.
    { name: 'score', cast: 'float8', init: (c: { value: unknown }) => String(c.value) },
    { name: 'regression_id', cast: 'bigint' },
  ],
  { table: 'regression_reports' },
);

/** Per-minute averages: a whole metric from its metric-level minutes, a series from its own. */
async function minuteValues(db: Db, u: Unit, from: number, to: number): Promise<MinuteValue[]> {
  if (u.seriesId === null)
    return (await readMetricBuckets(db, u.metricId, from, to, MINUTE)).map((b) => ({
      t: b.t,
      v: b.sum / b.count,
    }));
  return db.manyOrNone<MinuteValue>(sql.regressionMinutes, [u.ids, new Date(from), new Date(to)]);
}

/** The share of a window's 15-minute slots that hold at least one minute. */
function coverage(minutes: MinuteValue[], from: number, to: number): number {
  const slots = new Set(minutes.map((m) => Math.floor(m.t / SLOT_MS)));
  return slots.size / Math.max(1, Math.ceil((to - from) / SLOT_MS));
}

async function p95(db: Db, u: Unit, from: number, to: number): Promise<number> {
  if (u.seriesId === null)
    return (await readMetricRange(db, u.metricId, from, to)).sketch.quantiles([0.95])[0] as number;
  const rows = await db.manyOrNone<{ key: string; count: number }>(sql.regressionSketch, [
    u.ids,
    new Date(from),
    new Date(to),
  ]);
  const sketch: Record<string, number> = {};
  for (const r of rows) sketch[r.key] = r.count;
  return quantiles(sketch, [0.95])[0] as number;
}

export async function regression(
  deps: RegressionDeps,
  _payload: RegressionPayload,
): Promise<RegressionRun> {
  const c = deps.config;
  const now = (deps.now ?? Date.now)();
  const recentTo = now - (now % MINUTE);
  const recentFrom = recentTo - c.recentMs;
  const baselineFrom = recentTo - c.baselineMs;
  const rows = await deps.db.manyOrNone<{
    id: number;
    metric_id: number;
    metric_name: string;
    source_agent_id: string | null;
    instance_id: string | null;
    tags: Record<string, string>;
  }>(sql.regressionUnits, [new Date(recentFrom)]);
  const byMetric = new Map<string, typeof rows>();
  for (const r of rows) byMetric.set(r.metric_name, [...(byMetric.get(r.metric_name) ?? []), r]);
  const units: Unit[] = [];
  for (const [metric, list] of byMetric) {
    const metricId = (list[0] as (typeof list)[number]).metric_id;
    units.push({ metric, metricId, ids: list.map((s) => s.id), series: null, seriesId: null });
    if (list.length > 1) {
      for (const s of list)
        units.push({
          metric,
          metricId,
          ids: [s.id],
          seriesId: s.id,
          series: { source_agent_id: s.source_agent_id, instance_id: s.instance_id, tags: s.tags },
        });
    }
  }

  const computedAt = new Date(now).toISOString();
  const entries: ReportEntry[] = [];
  for (const u of units) {
    const minutes = await minuteValues(deps.db, u, baselineFrom, recentTo);
    const baseline = minutes.filter((m) => m.t < recentFrom);
    const recent = minutes.filter((m) => m.t >= recentFrom);
    // A series seen in less than half of either window (a fleet-level sample tagged with
    // whichever host took it, a host that came and went) is not judged on its own: its
    // metric, which holds it, is.
    if (
      u.seriesId !== null &&
      (coverage(baseline, baselineFrom, recentFrom) < 0.5 ||
        coverage(recent, recentFrom, recentTo) < 0.5)
    )
      continue;
    const a = analyse(baseline, recent, !c.lowerIsWorse.includes(u.metric), c);
    if (!a?.listed) continue;
    const [pb, pr] = await Promise.all([
      p95(deps.db, u, baselineFrom, recentFrom),
      p95(deps.db, u, recentFrom, recentTo),
    ]);
    const { listed: _listed, ...analysis } = a;
    entries.push({
      metric_name: u.metric,
      series_id: u.seriesId,
      series: u.series,
      ...analysis,
      p95_change_percent: Math.abs(pb) > 1e-12 ? ((pr - pb) / Math.abs(pb)) * 100 : null,
      regression_id: null,
      first_seen: null,
      last_seen: null,
      computed_at: computedAt,
    });
  }

  const runId = randomUUID();
  await deps.db.tx('regression run', async (t) => {
    await t.one(sql.regressionLock);
    await t.none(sql.regressionRunInsert, [
      runId,
      computedAt,
      new Date(baselineFrom),
      new Date(recentFrom),
      new Date(recentFrom),
      new Date(recentTo),
      units.length,
      entries.length,
    ]);
    const open: number[] = [];
    for (const e of entries) {
      if (e.regression_severity === 'NORMAL') continue;
      const g = await t.one<{ id: number; first_seen: Date; last_seen: Date }>(sql.regressionOpen, [
        e.metric_name,
        e.series_id,
        e.regression_severity,
        e.direction,
        computedAt,
      ]);
      e.regression_id = g.id;
      e.first_seen = g.first_seen.toISOString();
      e.last_seen = g.last_seen.toISOString();
      open.push(g.id);
    }
    await t.none(sql.regressionClose, [open, computedAt]);
    if (entries.length > 0)
      await t.none(
        pgp.helpers.insert(
          entries.map((e) => ({ ...e, run_id: runId })),
          reportColumns,
        ),
      );
  });

  if (deps.cache) {
    const { cache, ttlMs } = deps.cache;
    try {
      const view = await regressionView(deps.db);
      await cache.put(cacheName.regressions(), makeEntry(view, ttlMs), { announce: true });
    } catch (err) {
      // The report is stored; the next warm pass shows it.
      deps.log.warn({ err: (err as Error).message }, 'could not refresh the cached report');
    }
  }

  const counts: Record<Severity, number> = { CRITICAL: 0, WARNING: 0, NORMAL: 0 };
  for (const e of entries) counts[e.regression_severity] += 1;
  deps.log.info(
    { run: runId, analysed: units.length, listed: entries.length, ...counts },
    'regression run done',
  );
  const order: Record<Severity, number> = { CRITICAL: 0, WARNING: 1, NORMAL: 2 };
  // Most surprising first: severity, then how far the level moved in noise units.
  entries.sort(
    (x, y) =>
      order[x.regression_severity] - order[y.regression_severity] ||
      (y.score === x.score ? 0 : y.score > x.score ? 1 : -1) ||
      Math.abs(y.shift_percent ?? 0) - Math.abs(x.shift_percent ?? 0),
  );
  return {
    run_id: runId,
    computed_at: computedAt,
    analysed: units.length,
    listed: entries.length,
    counts,
    entries,
  };
}
