// Regression analysis of one metric or series: the plan's baseline/recent comparison and
// severities, fixed where the plan is wrong — no division by a zero baseline, p95 from merged
// sketches, both directions, a change point so a regression is judged by its full size, a
// daily-cycle-aware baseline, and a significance test so noise is never an alert.
import { fit, SLOT_MS, type Fitted, type Seasonality } from './seasonal.js';
import { bestSplit, median, moments, welch } from './stats.js';
import { MINUTE } from '../infra/time.js';

export type Severity = 'NORMAL' | 'WARNING' | 'CRITICAL';

export interface RegressionSettings {
  criticalPercent: number;
  warningPercent: number;
  minChangePercent: number;
  alpha: number;
  /** Shortest segment a change point may leave on either side. */
  minSegmentMinutes: number;
  /** Which cycles the expected level follows (REGRESSION_SEASONALITY); default auto. */
  seasonality?: Seasonality;
}

export interface MinuteValue {
  t: number;
  v: number;
}

export interface Analysis {
  baseline_avg: number;
  recent_avg: number;
  avg_change_percent: number | null;
  shift_percent: number | null;
  change_absolute: number;
  shift_absolute: number;
  change_point: string | null;
  p_value: number;
  direction: 'up' | 'down';
  regression_severity: Severity;
  baseline_zero: boolean;
  /** The model the expected level came from (`auto` resolved). */
  seasonality: 'weekly' | 'daily' | 'none';
  /** How far the level moved in units of the baseline's slot-to-slot noise: the ranking key. */
  score: number;
  /** Whether the plan's filter lets it into the report: a large enough, significant change. */
  listed: boolean;
}

/**
 * A 15-minute slot of a series (or of a metric, its series merged): its minutes summed up, as
 * migration 011's regression_slots holds them. Its level is vsum / minutes, the mean of its
 * minutes' values.
 */
export interface Slot {
  /** Start of the slot, epoch ms. */
  t: number;
  /** Minutes with data, and the sum and the highest of their values. */
  minutes: number;
  vsum: number;
  vmax: number;
  /** The first and last minute's value, and the rises from one minute to the next inside. */
  first: number;
  last: number;
  rises: number;
  /** Every minute's value a whole number ≥ 0 (a count of events). */
  whole: boolean;
}

const level = (s: Slot) => s.vsum / s.minutes;
const minutesOf = (slots: Slot[]) => slots.reduce((n, s) => n + s.minutes, 0);

/** The slots of a run of minutes (in time order), as regression_slots would hold them. */
export function slotsOf(minutes: MinuteValue[]): Slot[] {
  const out: Slot[] = [];
  let cur: Slot | undefined;
  for (const m of minutes) {
    const t = Math.floor(m.t / SLOT_MS) * SLOT_MS;
    if (cur?.t !== t) {
      cur = { t, minutes: 0, vsum: 0, vmax: m.v, first: m.v, last: m.v, rises: 0, whole: true };
      out.push(cur);
    } else cur.rises += Math.max(0, m.v - cur.last);
    cur.minutes += 1;
    cur.vsum += m.v;
    cur.vmax = Math.max(cur.vmax, m.v);
    cur.last = m.v;
    cur.whole &&= m.v >= 0 && Number.isInteger(m.v);
  }
  return out;
}

/**
 * Compares the recent minutes with the baseline minutes (see analyseSlots), the change point
 * found to the minute.
 */
export function analyse(
  baseline: MinuteValue[],
  recent: MinuteValue[],
  higherIsWorse: boolean,
  s: RegressionSettings,
): Analysis | undefined {
  const r = analyseSlots(slotsOf(baseline), slotsOf(recent), higherIsWorse, s);
  if (r?.refine) r.analysis.change_point = r.refine(recent);
  return r?.analysis;
}

/**
 * Compares the recent slots with the baseline slots. Each slot's level is set against the
 * level the baseline leads to expect at that moment (seasonal.ts: a daily profile, times day
 * levels when the metric has a weekly cycle), so neither cycle is taken for a shift. Then:
 *
 * - the change point is the best single split of the recent slots' deviations (refine() finds
 *   its minute from the minutes around it);
 * - levels are medians of 15-minute slot means, so a burst moves nothing;
 * - the significance test counts what the deviations really hold: slots that follow one
 *   another are correlated, and the number of independent slots is cut accordingly
 *   (n_eff = n (1 − ρ) / (1 + ρ), ρ the baseline's lag-one autocorrelation);
 * - a shift must hold: both halves of the segment after the change point are off in the same
 *   direction by at least half of it;
 * - a shift must matter: at least twice the slot-to-slot noise and a twentieth of the
 *   baseline's typical range (p5–p95 of its slot levels), or it is never WARNING or CRITICAL;
 * - a small count of events (whole numbers, at most 10 in 95 % of the baseline's slots) is
 *   judged on its rate: at least one more new event an hour than in the baseline.
 */
export function analyseSlots(
  baselineSlots: Slot[],
  recentSlots: Slot[],
  higherIsWorse: boolean,
  s: RegressionSettings,
): { analysis: Analysis; refine?: (minutes: MinuteValue[]) => string } | undefined {
  const d = deviationsOf(baselineSlots, recentSlots, s);
  if (!d) return undefined;
  const { bMean, rMean, baselineZero, relative } = d;
  const cut = changePointOf(d, s);
  const segment = d.rec.slice(cut.from);
  const bStats = robust(d.base);
  const aStats = robust(segment);
  const test = compare(bStats, aStats, d.rho);

  const avgChange = baselineZero ? null : ((rMean - bMean) / Math.abs(bMean)) * 100;
  let shift: number | null;
  if (baselineZero) shift = null;
  else if (relative) shift = ((1 + aStats.level) / (1 + bStats.level) - 1) * 100;
  else shift = ((aStats.level - bStats.level) / Math.abs(bMean)) * 100;
  const shiftAbsolute = relative ? ((shift ?? 0) / 100) * bMean : aStats.level - bStats.level;
  const direction: 'up' | 'down' = (shift ?? shiftAbsolute) >= 0 ? 'up' : 'down';
  const bad = higherIsWorse ? direction === 'up' : direction === 'down';
  const significant = test.p < s.alpha;
  const noiseAbsolute = relative ? bStats.scale * Math.abs(bMean) : bStats.scale;
  const size = shift === null ? null : Math.abs(shift);
  let severity: Severity = 'NORMAL';
  if (
    significant &&
    bad &&
    held(segment, bStats.level, aStats.level - bStats.level) &&
    matters(d, shiftAbsolute, noiseAbsolute)
  ) {
    if (size === null)
      severity = 'WARNING'; // a zero baseline has no percentage: flag, never CRITICAL
    else if (size > s.criticalPercent) severity = 'CRITICAL';
    else if (size > s.warningPercent) severity = 'WARNING';
  }
  const analysis: Analysis = {
    baseline_avg: bMean,
    recent_avg: rMean,
    avg_change_percent: avgChange,
    shift_percent: shift,
    change_absolute: rMean - bMean,
    shift_absolute: shiftAbsolute,
    change_point: cut.changePoint,
    p_value: test.p,
    direction,
    regression_severity: severity,
    baseline_zero: baselineZero,
    seasonality: d.model.kind,
    score:
      noiseAbsolute > 0
        ? Math.abs(shiftAbsolute) / noiseAbsolute
        : Math.abs(shiftAbsolute) > 0
          ? Infinity
          : 0,
    listed: significant && (size === null ? shiftAbsolute !== 0 : size > s.minChangePercent),
  };
  return cut.refine ? { analysis, refine: cut.refine } : { analysis };
}

/** The windows' slots set against the level the baseline leads to expect. */
interface Deviations {
  /** The slots whose expected level the baseline can tell. */
  baseline: Slot[];
  recent: Slot[];
  bMean: number;
  rMean: number;
  baselineZero: boolean;
  model: Fitted;
  /** Deviations relative to the expected level, or absolute where it is near zero. */
  relative: boolean;
  deviation: (m: MinuteValue) => number;
  base: number[];
  rec: number[];
  /** The baseline deviations' lag-one autocorrelation. */
  rho: number;
}

function deviationsOf(
  baselineSlots: Slot[],
  recentSlots: Slot[],
  s: RegressionSettings,
): Deviations | undefined {
  let baseline = baselineSlots;
  let recent = recentSlots;
  // Each window must span two segments' worth of time: slots with data, 15 minutes each, so a
  // series sampled every 10 minutes counts its hours as one sampled every minute does.
  const spans = (xs: Slot[]) => xs.length * (SLOT_MS / MINUTE) >= 2 * s.minSegmentMinutes;
  if (!spans(baseline) || !spans(recent)) return undefined;
  const bMean = baseline.reduce((x, p) => x + p.vsum, 0) / minutesOf(baseline);
  const rMean = recent.reduce((x, p) => x + p.vsum, 0) / minutesOf(recent);
  const scale = Math.max(Math.abs(bMean), Math.abs(rMean));
  const baselineZero = Math.abs(bMean) <= 1e-9 * Math.max(1, scale);

  const model = fit(
    baseline.map((p) => ({ t: p.t, v: level(p) })),
    s.seasonality ?? 'auto',
  );
  // Slots of a day whose level the baseline cannot tell (a weekly metric, a short baseline)
  // are left out: a weekly swing there would pass for a shift.
  const known = (p: Slot) => Number.isFinite(model.expected(p.t));
  baseline = baseline.filter(known);
  recent = recent.filter(known);
  if (!spans(baseline) || !spans(recent)) return undefined;
  // Relative deviations from the expected level, or absolute ones where it is near zero.
  const relative =
    !baselineZero &&
    [...baseline, ...recent].every((p) => model.expected(p.t) > 1e-9 * Math.max(1, scale));
  const deviation = (m: MinuteValue) => {
    const e = model.expected(m.t);
    return relative ? m.v / e - 1 : m.v - e;
  };
  const base = baseline.map((p) => deviation({ t: p.t, v: level(p) }));
  const rec = recent.map((p) => deviation({ t: p.t, v: level(p) }));
  const rho = lagOneCorrelation(base);
  return {
    baseline,
    recent,
    bMean,
    rMean,
    baselineZero,
    model,
    relative,
    deviation,
    base,
    rec,
    rho,
  };
}

/** The change point, to the slot: where the recent segment judged starts (0: no split). */
function changePointOf(
  d: Deviations,
  s: RegressionSettings,
): { from: number; changePoint: string | null; refine?: (minutes: MinuteValue[]) => string } {
  const { rec, relative } = d;
  const k = bestSplit(rec, Math.max(1, Math.ceil(s.minSegmentMinutes / (SLOT_MS / MINUTE))));
  if (k === undefined) return { from: 0, changePoint: null };
  const before = robust(rec.slice(0, k));
  const after = robust(rec.slice(k));
  const step = relative
    ? ((1 + after.level) / (1 + before.level) - 1) * 100
    : after.level - before.level;
  const t = compare(before, after, d.rho);
  if (!(t.p < s.alpha && (relative ? Math.abs(step) > s.minChangePercent : Math.abs(step) > 0)))
    return { from: 0, changePoint: null };
  const at = (d.recent[k] as Slot).t;
  return {
    from: k,
    changePoint: new Date(at).toISOString(),
    refine: (minutes) =>
      new Date(splitMinute(minutes, at, d.deviation, before.level, after.level)).toISOString(),
  };
}

/** It holds: both halves of the segment are off the same way, by half the shift at least. */
function held(segment: number[], baseLevel: number, moved: number): boolean {
  const half = Math.floor(segment.length / 2);
  return (
    segment.length >= 2 &&
    [segment.slice(0, half), segment.slice(half)].every(
      (xs) =>
        Math.sign(median(xs) - baseLevel) === Math.sign(moved) &&
        Math.abs(median(xs) - baseLevel) >= 0.5 * Math.abs(moved),
    )
  );
}

/** It matters: above the noise and a share of the typical range, in the metric's own units. */
function matters(d: Deviations, shiftAbsolute: number, noiseAbsolute: number): boolean {
  const quantile = (xs: number[], q: number) => {
    const sorted = xs.sort((x, y) => x - y);
    return sorted[Math.floor(q * (sorted.length - 1))] as number;
  };
  const levels = d.baseline.map(level);
  const typicalRange = quantile(levels, 0.95) - quantile(levels, 0.05);
  const floor = Math.max(2 * noiseAbsolute, 0.05 * typicalRange);
  return (
    (Math.abs(shiftAbsolute) >= floor || d.baselineZero) &&
    (!rareEvents(d.baseline, d.recent) || eventRate(d.recent) - eventRate(d.baseline) >= 1)
  );
}

/**
 * The minute a shift begins, near the slot boundary `at` where the slots put it: of the minutes
 * in the slots on either side, the split that best fits the level before (`before`) and after
 * (`after`) it, in the deviations the levels are measured in. `at` when no minute is there.
 */
function splitMinute(
  minutes: MinuteValue[],
  at: number,
  deviation: (m: MinuteValue) => number,
  before: number,
  after: number,
): number {
  const near = minutes.filter((m) => m.t >= at - SLOT_MS && m.t < at + SLOT_MS);
  if (near.length === 0) return at;
  const d = near.map(deviation);
  // cost(j) = Σ_{i<j} (d_i − before)² + Σ_{i≥j} (d_i − after)²; start with j = 0.
  let cost = d.reduce((x, v) => x + (v - after) ** 2, 0);
  let best = { cost, t: (near[0] as MinuteValue).t };
  for (let j = 1; j < near.length; j++) {
    const v = d[j - 1] as number;
    cost += (v - before) ** 2 - (v - after) ** 2;
    if (cost < best.cost) best = { cost, t: (near[j] as MinuteValue).t };
  }
  return best.t;
}

/**
 * A small count of events (failed jobs, deadlocks): whole numbers, at most 10 in 95 % of the
 * baseline's slots. Its level moves by whole events, so one event looks like a large step in
 * percent.
 */
function rareEvents(baseline: Slot[], recent: Slot[]): boolean {
  if (!baseline.every((p) => p.whole) || !recent.every((p) => p.whole)) return false;
  const highs = baseline.map((p) => p.vmax).sort((x, y) => x - y);
  return (highs[Math.floor(0.95 * (highs.length - 1))] as number) <= 10;
}

/** New events an hour: the rises of the count from minute to minute, across slots too. */
function eventRate(slots: Slot[]): number {
  let events = 0;
  slots.forEach((p, i) => {
    events += p.rises;
    if (i > 0) events += Math.max(0, p.first - (slots[i - 1] as Slot).last);
  });
  return events / Math.max(1, minutesOf(slots) / 60);
}

interface Robust {
  /** Median. */
  level: number;
  /** MAD × 1.4826 (σ for normal data); the standard deviation when the MAD is 0. */
  scale: number;
  n: number;
}

function robust(xs: number[]): Robust {
  const level = median(xs);
  let scale = 1.4826 * median(xs.map((x) => Math.abs(x - level)));
  if (!(scale > 0)) scale = Math.sqrt(moments(xs).variance || 0);
  return { level, scale, n: xs.length };
}

/** Lag-one autocorrelation, clamped to [0, 0.95]. */
function lagOneCorrelation(xs: number[]): number {
  const m = moments(xs);
  if (m.n < 3 || !(m.variance > 0)) return 0;
  let c = 0;
  for (let i = 1; i < xs.length; i++)
    c += ((xs[i] as number) - m.mean) * ((xs[i - 1] as number) - m.mean);
  const rho = c / ((xs.length - 1) * m.variance);
  return Math.min(0.95, Math.max(0, rho));
}

/**
 * Two-sided p-value of a difference of medians, with the standard error of a median (1.2533 σ
 * / √n) over effective sample sizes, Welch–Satterthwaite degrees of freedom.
 */
function compare(a: Robust, b: Robust, rho: number): { p: number } {
  const shrink = (1 - rho) / (1 + rho);
  const na = Math.max(2, a.n * shrink);
  const nb = Math.max(2, b.n * shrink);
  const scaleA = a.scale * 1.2533;
  const scaleB = b.scale * 1.2533;
  const r = welch(
    { n: na, mean: a.level, variance: scaleA ** 2 },
    { n: nb, mean: b.level, variance: scaleB ** 2 },
  );
  return { p: r.p };
}
