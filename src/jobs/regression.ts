// The regression job: for every metric (all its series together) and every series of a metric
// with several, compares the recent window with the baseline (src/metrics/regression.ts),
// keeps the listed entries as a report, and tracks open regressions across runs.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { cancellable, cancellableTx, throwIfAborted } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { pgp } from '../infra/db.js';
import { sql } from '../metrics/queries.js';
import {
  analyseSlots,
  type Analysis,
  type MinuteValue,
  type RegressionSettings,
  type Severity,
  type Slot,
} from '../metrics/regression.js';
import { readMetricBuckets, readMetricRange } from '../metrics/metric-rollup.js';
import { quantiles } from '../metrics/sketch.js';
import { SLOT_MS } from '../metrics/seasonal.js';
import { makeEntry, type DashboardCache } from '../cache/dashboard-cache.js';
import { cacheName } from '../cache/names.js';
import { regressionView } from '../metrics/dashboard.js';
import { MINUTE } from '../infra/time.js';

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

/** Slots as minute_slots() (migration 011) packs them: 54 bytes each. */
const SLOT_BYTES = 54;

interface Window {
  from: number;
  split: number;
  to: number;
  /** Slot starts a window edge cuts: read from the computed slots only. */
  edges: Set<number>;
}

interface Slots {
  baseline: Slot[];
  recent: Slot[];
}

/** Decodes packed slots, in their order, into `out` (those `keep` wants). */
function decode(packed: Buffer | null, w: Window, keep: (t: number) => boolean, out: Slots): void {
  if (!packed) return;
  const v = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  for (let o = 0; o + SLOT_BYTES <= packed.length; o += SLOT_BYTES) {
    const t = v.getFloat64(o);
    if (!keep(t)) continue;
    const flags = v.getInt16(o + 8);
    ((flags & 2) !== 0 || t >= w.split ? out.recent : out.baseline).push({
      t,
      whole: (flags & 1) !== 0,
      minutes: v.getInt32(o + 10),
      vsum: v.getFloat64(o + 14),
      vmax: v.getFloat64(o + 22),
      first: v.getFloat64(o + 30),
      last: v.getFloat64(o + 38),
      rises: v.getFloat64(o + 46),
    });
  }
}

/** Two lists of slots in time order as one (a slot cut by the split is in both windows). */
function interleave(a: Slot[], b: Slot[]): Slot[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: Slot[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length)
    out.push(
      j >= b.length || (i < a.length && (a[i] as Slot).t <= (b[j] as Slot).t)
        ? (a[i++] as Slot)
        : (b[j++] as Slot),
    );
  return out;
}

/**
 * One series' slots, baseline and recent: the stored ones (whole hours: only the slots inside
 * the window and not cut by an edge) with the computed ones (dirty and open hours, edges).
 */
function seriesSlots(stored: Buffer | null, computed: Buffer | null, w: Window): Slots {
  const s: Slots = { baseline: [], recent: [] };
  decode(stored, w, (t) => t >= w.from && t + SLOT_MS <= w.to && !w.edges.has(t), s);
  const c: Slots = { baseline: [], recent: [] };
  decode(computed, w, () => true, c);
  return { baseline: interleave(s.baseline, c.baseline), recent: interleave(s.recent, c.recent) };
}

/**
 * A metric's slots from its series': a slot's level is the mean of all their minutes in it,
 * and its minutes the most any series had. It is a count of events only when one series is the
 * whole metric (a mean over several series is no count).
 */
function mergeSlots(lists: Slot[][]): Slot[] {
  if (lists.length === 1) return lists[0] as Slot[];
  const byT = new Map<number, { slot: Slot; minutes: number; vsum: number }>();
  for (const list of lists)
    for (const p of list) {
      const m = byT.get(p.t);
      if (!m)
        byT.set(p.t, {
          slot: { ...p, whole: false, first: 0, last: 0, rises: 0 },
          minutes: p.minutes,
          vsum: p.vsum,
        });
      else {
        m.minutes += p.minutes;
        m.vsum += p.vsum;
        m.slot.minutes = Math.max(m.slot.minutes, p.minutes);
        m.slot.vmax = Math.max(m.slot.vmax, p.vmax);
      }
    }
  const merged = [...byT.values()].sort((x, y) => x.slot.t - y.slot.t);
  for (const m of merged) m.slot.vsum = (m.slot.minutes * m.vsum) / m.minutes;
  return merged.map((m) => m.slot);
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
function coverage(slots: Slot[], from: number, to: number): number {
  return slots.length / Math.max(1, Math.ceil((to - from) / SLOT_MS));
}

/** The slot starts that the window's edges cut (a slot partly inside is computed, not read). */
function edgeSlots(...edges: number[]): Set<number> {
  return new Set(edges.filter((t) => t % SLOT_MS !== 0).map((t) => t - (t % SLOT_MS)));
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
  const started = performance.now();
  const c = deps.config;
  const now = (deps.now ?? Date.now)();
  const recentTo = now - (now % MINUTE);
  const recentFrom = recentTo - c.recentMs;
  const baselineFrom = recentTo - c.baselineMs;
  const w: Window = {
    from: baselineFrom,
    split: recentFrom,
    to: recentTo,
    edges: edgeSlots(baselineFrom, recentFrom, recentTo),
  };
  const packed = await cancellable(deps.db, deps.signal, 'regression read', (t) =>
    t.manyOrNone<{
      series_id: string;
      stored: Buffer | null;
      computed: Buffer | null;
    }>(sql.regressionSlotsRead, [
      new Date(w.from),
      new Date(w.split),
      new Date(w.to),
      [...w.edges].map((t) => new Date(t)),
    ]),
  );
  const slotsOf = new Map(
    packed.map((r) => [Number(r.series_id), seriesSlots(r.stored, r.computed, w)]),
  );
  const rows = await deps.db.manyOrNone<{
    id: number;
    metric_id: number;
    metric_name: string;
    source_agent_id: string | null;
    instance_id: string | null;
    tags: Record<string, string>;
  }>(sql.regressionUnits, [[...slotsOf.keys()]]);
  const byMetric = new Map<string, typeof rows>();
  for (const r of rows) {
    const list = byMetric.get(r.metric_name);
    if (list) list.push(r);
    else byMetric.set(r.metric_name, [r]);
  }
  const units: Unit[] = [];
  let seriesBudget = c.seriesLimits?.maxSeries ?? Infinity;
  const perMetric = c.seriesLimits?.maxPerMetric ?? Infinity;
  let skipped = 0;
  for (const [metric, all] of byMetric) {
    const metricId = (all[0] as (typeof all)[number]).metric_id;
    const slots = (id: number) => slotsOf.get(id) ?? { baseline: [], recent: [] };
    // Judged: the series seen in the recent window; the metric's level merges all its series.
    const list = all.filter((s) => slots(s.id).recent.length > 0);
    if (list.length === 0) continue;
    units.push({
      metric,
      metricId,
      ids: all.map((s) => s.id),
      series: null,
      seriesId: null,
      baseline: mergeSlots(all.map((s) => slots(s.id).baseline)),
      recent: mergeSlots(all.map((s) => slots(s.id).recent)),
    });
    if (list.length > 1) {
      const take = Math.max(0, Math.min(perMetric, seriesBudget, list.length));
      if (take < list.length) {
        // Most recent coverage first; the id keeps the choice stable from run to run.
        list.sort((x, y) => slots(y.id).recent.length - slots(x.id).recent.length || x.id - y.id);
        skipped += list.length - take;
        list.length = take;
      }
      seriesBudget -= take;
      for (const s of list)
        units.push({
          metric,
          metricId,
          ids: [s.id],
          seriesId: s.id,
          series: { source_agent_id: s.source_agent_id, instance_id: s.instance_id, tags: s.tags },
          ...slots(s.id),
        });
    }
  }

  const computedAt = new Date(now).toISOString();
  const entries: ReportEntry[] = [];
  const ms = { read: performance.now() - started, analyse: 0, store: 0 };
  for (const u of units) {
    throwIfAborted(deps.signal);
    let t = performance.now();
    // A series seen in less than half of either window (a fleet-level sample tagged with
    // whichever host took it, a host that came and went) is not judged on its own: its
    // metric, which holds it, is.
    if (
      u.seriesId !== null &&
      (coverage(u.baseline, baselineFrom, recentFrom) < 0.5 ||
        coverage(u.recent, recentFrom, recentTo) < 0.5)
    )
      continue;
    const r = analyseSlots(u.baseline, u.recent, !c.lowerIsWorse.includes(u.metric), c);
    ms.analyse += performance.now() - t;
    if (!r?.analysis.listed) continue;
    t = performance.now();
    const a = r.analysis;
    if (r.refine && a.change_point !== null) {
      // The minute the shift began, from the minutes of the slots around the boundary.
      const at = Date.parse(a.change_point);
      a.change_point = r.refine(await minuteValues(deps.db, u, at - SLOT_MS, at + SLOT_MS));
    }
    const [pb, pr] = await Promise.all([
      p95(deps.db, u, baselineFrom, recentFrom),
      p95(deps.db, u, recentFrom, recentTo),
    ]);
    ms.read += performance.now() - t;
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
  const storing = performance.now();
  await cancellableTx(deps.db, deps.signal, 'regression run', async (t) => {
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

  ms.store = performance.now() - storing;

  const counts: Record<Severity, number> = { CRITICAL: 0, WARNING: 0, NORMAL: 0 };
  for (const e of entries) counts[e.regression_severity] += 1;
  if (skipped > 0)
    deps.log.warn(
      { run: runId, skipped, limits: c.seriesLimits },
      'series not judged on their own: past MAX_SERIES_PER_METRIC or MAX_SERIES (their metrics were judged whole)',
    );
  deps.log.info(
    {
      run: runId,
      analysed: units.length,
      skipped,
      listed: entries.length,
      ...counts,
      ms: {
        read: Math.round(ms.read),
        analyse: Math.round(ms.analyse),
        store: Math.round(ms.store),
      },
    },
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
    skipped_series: skipped,
    listed: entries.length,
    counts,
    entries,
    ms,
  };
}
