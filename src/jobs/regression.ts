// The regression job: for every metric (all its series together) and every series of a metric
// with several, compares the recent window with the baseline (src/metrics/regression.ts),
// keeps the listed entries as a report, and tracks open regressions across runs. The slots it
// reads are in regression-slots.ts, how a run is stored in regression-store.ts.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { throwIfAborted } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { sql } from '../metrics/queries.js';
import {
  analyseSlots,
  type MinuteValue,
  type RegressionSettings,
  type Severity,
  type Slot,
} from '../metrics/regression.js';
import { readMetricBuckets, readMetricRange } from '../metrics/metric-rollup.js';
import { quantiles } from '../metrics/sketch.js';
import { SLOT_MS } from '../metrics/seasonal.js';
import type { DashboardCache } from '../cache/dashboard-cache.js';
import { MINUTE } from '../infra/time.js';
import {
  coverage,
  mergeSlots,
  readSlots,
  windowOf,
  type Slots,
  type Window,
} from './regression-slots.js';
import { refreshCachedReport, storeRun, type ReportEntry } from './regression-store.js';

export type { ReportEntry };

export interface RegressionPayload {
  reason: 'schedule' | 'manual';
}

export interface RegressionConfig extends RegressionSettings {
  baselineMs: number;
  recentMs: number;
  /**
   * Series judged on their own, at most, per metric (MAX_SERIES_PER_METRIC) and in all
   * (MAX_SERIES): those seen most in the recent window first. Every metric is still judged
   * whole, over all its series. Unbounded when unset.
   */
  seriesLimits?: { maxPerMetric: number; maxSeries: number };
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
  /** Stops the run (shutdown) in its read, between units, or in its store (rolled back). */
  signal?: AbortSignal;
}

export interface RegressionRun {
  run_id: string;
  computed_at: string;
  analysed: number;
  /** Series not judged on their own, past the series limits (their metrics still were). */
  skipped_series: number;
  listed: number;
  counts: Record<Severity, number>;
  entries: ReportEntry[];
  /** Where the run's time went, ms: reading rollups, analysing, storing the report. */
  ms: { read: number; analyse: number; store: number };
}

interface Unit {
  metric: string;
  metricId: number;
  ids: number[];
  series: ReportEntry['series'];
  seriesId: number | null;
  baseline: Slot[];
  recent: Slot[];
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

/** Per-minute averages: a whole metric from its metric-level minutes, a series from its own. */
async function minuteValues(db: Db, u: Unit, from: number, to: number): Promise<MinuteValue[]> {
  if (u.seriesId === null)
    return (await readMetricBuckets(db, u.metricId, from, to, MINUTE)).map((b) => ({
      t: b.t,
      v: b.sum / b.count,
    }));
  return db.manyOrNone<MinuteValue>(sql.regressionMinutes, [u.ids, new Date(from), new Date(to)]);
}

/** A series row of the units' query. */
interface SeriesRow {
  id: number;
  metric_id: number;
  metric_name: string;
  source_agent_id: string | null;
  instance_id: string | null;
  tags: Record<string, string>;
}

/** What is judged: each metric whole, and the series of metrics with several, within limits. */
async function unitsOf(
  db: Db,
  slotsOf: Map<number, Slots>,
  limits: RegressionConfig['seriesLimits'],
): Promise<{ units: Unit[]; skipped: number }> {
  const rows = await db.manyOrNone<SeriesRow>(sql.regressionUnits, [[...slotsOf.keys()]]);
  const byMetric = new Map<string, SeriesRow[]>();
  for (const r of rows) {
    const list = byMetric.get(r.metric_name);
    if (list) list.push(r);
    else byMetric.set(r.metric_name, [r]);
  }
  const slots = (id: number): Slots => slotsOf.get(id) ?? { baseline: [], recent: [] };
  const budget = {
    series: limits?.maxSeries ?? Infinity,
    perMetric: limits?.maxPerMetric ?? Infinity,
  };
  const units: Unit[] = [];
  let skipped = 0;
  for (const [metric, all] of byMetric) skipped += metricUnits(metric, all, slots, budget, units);
  return { units, skipped };
}

/** Adds a metric's units to `units`; returns how many of its series the limits left out. */
function metricUnits(
  metric: string,
  all: SeriesRow[],
  slots: (id: number) => Slots,
  budget: { series: number; perMetric: number },
  units: Unit[],
): number {
  const metricId = (all[0] as SeriesRow).metric_id;
  // Judged: the series seen in the recent window; the metric's level merges all its series.
  const list = all.filter((s) => slots(s.id).recent.length > 0);
  if (list.length === 0) return 0;
  units.push({
    metric,
    metricId,
    ids: all.map((s) => s.id),
    series: null,
    seriesId: null,
    baseline: mergeSlots(all.map((s) => slots(s.id).baseline)),
    recent: mergeSlots(all.map((s) => slots(s.id).recent)),
  });
  if (list.length <= 1) return 0;
  let skipped = 0;
  const take = Math.max(0, Math.min(budget.perMetric, budget.series, list.length));
  if (take < list.length) {
    // Most recent coverage first; the id keeps the choice stable from run to run.
    list.sort((x, y) => slots(y.id).recent.length - slots(x.id).recent.length || x.id - y.id);
    skipped = list.length - take;
    list.length = take;
  }
  budget.series -= take;
  for (const s of list)
    units.push({
      metric,
      metricId,
      ids: [s.id],
      seriesId: s.id,
      series: { source_agent_id: s.source_agent_id, instance_id: s.instance_id, tags: s.tags },
      ...slots(s.id),
    });
  return skipped;
}

/** A unit's report entry, or null when it is not listed (or not judged on its own). */
async function judge(
  deps: RegressionDeps,
  u: Unit,
  w: Window,
  computedAt: string,
  ms: RegressionRun['ms'],
): Promise<ReportEntry | null> {
  const c = deps.config;
  let t = performance.now();
  // A series seen in less than half of either window (a fleet-level sample tagged with
  // whichever host took it, a host that came and went) is not judged on its own: its
  // metric, which holds it, is.
  if (
    u.seriesId !== null &&
    (coverage(u.baseline, w.from, w.split) < 0.5 || coverage(u.recent, w.split, w.to) < 0.5)
  )
    return null;
  const r = analyseSlots(u.baseline, u.recent, !c.lowerIsWorse.includes(u.metric), c);
  ms.analyse += performance.now() - t;
  if (!r?.analysis.listed) return null;
  t = performance.now();
  const a = r.analysis;
  if (r.refine && a.change_point !== null) {
    // The minute the shift began, from the minutes of the slots around the boundary.
    const at = Date.parse(a.change_point);
    a.change_point = r.refine(await minuteValues(deps.db, u, at - SLOT_MS, at + SLOT_MS));
  }
  const [pb, pr] = await Promise.all([
    p95(deps.db, u, w.from, w.split),
    p95(deps.db, u, w.split, w.to),
  ]);
  ms.read += performance.now() - t;
  const { listed: _listed, ...analysis } = a;
  return {
    metric_name: u.metric,
    series_id: u.seriesId,
    series: u.series,
    ...analysis,
    p95_change_percent: Math.abs(pb) > 1e-12 ? ((pr - pb) / Math.abs(pb)) * 100 : null,
    regression_id: null,
    first_seen: null,
    last_seen: null,
    computed_at: computedAt,
  };
}

const SEVERITY_ORDER: Record<Severity, number> = { CRITICAL: 0, WARNING: 1, NORMAL: 2 };

/** Most surprising first: severity, then how far the level moved in noise units. */
function byConcern(x: ReportEntry, y: ReportEntry): number {
  return (
    SEVERITY_ORDER[x.regression_severity] - SEVERITY_ORDER[y.regression_severity] ||
    (y.score === x.score ? 0 : y.score > x.score ? 1 : -1) ||
    Math.abs(y.shift_percent ?? 0) - Math.abs(x.shift_percent ?? 0)
  );
}

export async function regression(
  deps: RegressionDeps,
  _payload: RegressionPayload,
): Promise<RegressionRun> {
  const started = performance.now();
  const now = (deps.now ?? Date.now)();
  const w = windowOf(now, deps.config);
  const slotsOf = await readSlots(deps.db, deps.signal, w);
  const { units, skipped } = await unitsOf(deps.db, slotsOf, deps.config.seriesLimits);

  const computedAt = new Date(now).toISOString();
  const entries: ReportEntry[] = [];
  const ms = { read: performance.now() - started, analyse: 0, store: 0 };
  for (const u of units) {
    throwIfAborted(deps.signal);
    const entry = await judge(deps, u, w, computedAt, ms);
    if (entry) entries.push(entry);
  }

  const runId = randomUUID();
  const storing = performance.now();
  await storeRun(
    deps.db,
    deps.signal,
    { id: runId, computedAt, window: w, analysed: units.length },
    entries,
  );
  if (deps.cache) await refreshCachedReport(deps.db, deps.log, deps.cache);
  ms.store = performance.now() - storing;

  const counts: Record<Severity, number> = { CRITICAL: 0, WARNING: 0, NORMAL: 0 };
  for (const e of entries) counts[e.regression_severity] += 1;
  logRun(deps, { runId, analysed: units.length, skipped, listed: entries.length, counts, ms });
  entries.sort(byConcern);
  return {
    run_id: runId,
    computed_at: computedAt,
    analysed: units.length,
    skipped_series: skipped,
    listed: entries.length,
    counts,
    entries,
    ms,
  };
}

function logRun(
  deps: RegressionDeps,
  r: {
    runId: string;
    analysed: number;
    skipped: number;
    listed: number;
    counts: Record<Severity, number>;
    ms: RegressionRun['ms'];
  },
): void {
  if (r.skipped > 0)
    deps.log.warn(
      { run: r.runId, skipped: r.skipped, limits: deps.config.seriesLimits },
      'series not judged on their own: past MAX_SERIES_PER_METRIC or MAX_SERIES (their metrics were judged whole)',
    );
  deps.log.info(
    {
      run: r.runId,
      analysed: r.analysed,
      skipped: r.skipped,
      listed: r.listed,
      ...r.counts,
      ms: {
        read: Math.round(r.ms.read),
        analyse: Math.round(r.ms.analyse),
        store: Math.round(r.ms.store),
      },
    },
    'regression run done',
  );
}
