// Regression analysis of one metric or series: the plan's baseline/recent comparison and
// severities, fixed where the plan is wrong — no division by a zero baseline, p95 from merged
// sketches, both directions, a change point so a regression is judged by its full size, a
// daily-cycle-aware baseline, and a significance test so noise is never an alert.
import { fit, slotMeans, SLOT_MS, type Seasonality } from './seasonal.js';
import { bestSplit, median, moments, welch } from './stats.js';

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
 * Compares the recent minutes with the baseline minutes. Each value is set against the level
 * the baseline leads to expect at that moment (seasonal.ts: a daily profile, times day levels
 * when the metric has a weekly cycle), so neither cycle is taken for a shift. Then:
 *
 * - the change point is the best single split of the recent minutes' deviations;
 * - levels are medians of 15-minute slot means, so a burst moves nothing;
 * - the significance test counts what the deviations really hold: slots that follow one
 *   another are correlated, and the number of independent slots is cut accordingly
 *   (n_eff = n (1 − ρ) / (1 + ρ), ρ the baseline's lag-one autocorrelation);
 * - a shift must hold: both halves of the segment after the change point are off in the same
 *   direction by at least half of it;
 * - a shift must matter: at least twice the slot-to-slot noise and a twentieth of the
 *   baseline's typical range (p5–p95 of its minutes), or it is never WARNING or CRITICAL;
 * - a small count of events (whole numbers, at most 10 in 95 % of the baseline) is judged on
 *   its rate: at least one more new event an hour than in the baseline.
 */
export function analyse(
  baseline: MinuteValue[],
  recent: MinuteValue[],
  higherIsWorse: boolean,
  s: RegressionSettings,
): Analysis | undefined {
  if (baseline.length < 2 * s.minSegmentMinutes || recent.length < 2 * s.minSegmentMinutes)
    return undefined;
  const b = moments(baseline.map((m) => m.v));
  const r = moments(recent.map((m) => m.v));
  const scale = Math.max(Math.abs(b.mean), Math.abs(r.mean));
  const baselineZero = Math.abs(b.mean) <= 1e-9 * Math.max(1, scale);

  const model = fit(baseline, s.seasonality ?? 'auto');
  // Minutes of a day whose level the baseline cannot tell (a weekly metric, a short baseline)
  // are left out: a weekly swing there would pass for a shift.
  const known = (m: MinuteValue) => Number.isFinite(model.expected(m.t));
  baseline = baseline.filter(known);
  recent = recent.filter(known);
  if (baseline.length < 2 * s.minSegmentMinutes || recent.length < 2 * s.minSegmentMinutes)
    return undefined;
  const bSlots = slotMeans(baseline);
  const rSlots = slotMeans(recent);
  // Relative deviations from the expected level, or absolute ones where it is near zero.
  const relative =
    !baselineZero &&
    [...bSlots, ...rSlots].every((p) => model.expected(p.t) > 1e-9 * Math.max(1, scale));
  const deviation = (m: MinuteValue) => {
    const e = model.expected(m.t);
    return relative ? m.v / e - 1 : m.v - e;
  };
  const base = bSlots.map(deviation);
  const rho = lagOneCorrelation(base);

  // The change point, to the minute.
  let fromT = -Infinity;
  let changePoint: string | null = null;
  const recMinutes = recent.map(deviation);
  const k = bestSplit(recMinutes, s.minSegmentMinutes);
  if (k !== undefined) {
    const before = robust(slotMeans(recent.slice(0, k)).map(deviation));
    const after = robust(slotMeans(recent.slice(k)).map(deviation));
    const step = relative
      ? ((1 + after.level) / (1 + before.level) - 1) * 100
      : after.level - before.level;
    const t = compare(before, after, rho);
    if (t.p < s.alpha && (relative ? Math.abs(step) > s.minChangePercent : Math.abs(step) > 0)) {
      fromT = (recent[k] as MinuteValue).t;
      changePoint = new Date(fromT).toISOString();
    }
  }
  const segmentSlots = rSlots.filter((p) => p.t + SLOT_MS > fromT);
  const segment = segmentSlots.map(deviation);
  const bStats = robust(base);
  const aStats = robust(segment);
  const test = compare(bStats, aStats, rho);

  const avgChange = baselineZero ? null : ((r.mean - b.mean) / Math.abs(b.mean)) * 100;
  let shift: number | null;
  if (baselineZero) shift = null;
  else if (relative) shift = ((1 + aStats.level) / (1 + bStats.level) - 1) * 100;
  else shift = ((aStats.level - bStats.level) / Math.abs(b.mean)) * 100;
  const shiftAbsolute = relative ? ((shift ?? 0) / 100) * b.mean : aStats.level - bStats.level;
  const direction: 'up' | 'down' = (shift ?? shiftAbsolute) >= 0 ? 'up' : 'down';
  const bad = higherIsWorse ? direction === 'up' : direction === 'down';
  const significant = test.p < s.alpha;

  // It holds: both halves of the segment are off the same way, by half the shift at least.
  const half = Math.floor(segment.length / 2);
  const moved = aStats.level - bStats.level;
  const held =
    segment.length >= 2 &&
    [segment.slice(0, half), segment.slice(half)].every(
      (xs) =>
        Math.sign(median(xs) - bStats.level) === Math.sign(moved) &&
        Math.abs(median(xs) - bStats.level) >= 0.5 * Math.abs(moved),
    );
  // It matters: above the noise and a share of the typical range, in the metric's own units.
  const sorted = baseline.map((m) => m.v).sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.floor(q * (sorted.length - 1))] as number;
  const typicalRange = at(0.95) - at(0.05);
  const noiseAbsolute = relative ? bStats.scale * Math.abs(b.mean) : bStats.scale;
  const floor = Math.max(2 * noiseAbsolute, 0.05 * typicalRange);
  const matters =
    (Math.abs(shiftAbsolute) >= floor || baselineZero) &&
    (!rareEvents(baseline, recent, at(0.95)) || eventRateRise(baseline, recent) >= 1);

  const size = shift === null ? null : Math.abs(shift);
  let severity: Severity = 'NORMAL';
  if (significant && bad && held && matters) {
    if (size === null)
      severity = 'WARNING'; // a zero baseline has no percentage: flag, never CRITICAL
    else if (size > s.criticalPercent) severity = 'CRITICAL';
    else if (size > s.warningPercent) severity = 'WARNING';
  }
  return {
    baseline_avg: b.mean,
    recent_avg: r.mean,
    avg_change_percent: avgChange,
    shift_percent: shift,
    change_absolute: r.mean - b.mean,
    shift_absolute: shiftAbsolute,
    change_point: changePoint,
    p_value: test.p,
    direction,
    regression_severity: severity,
    baseline_zero: baselineZero,
    seasonality: model.kind,
    score:
      noiseAbsolute > 0
        ? Math.abs(shiftAbsolute) / noiseAbsolute
        : Math.abs(shiftAbsolute) > 0
          ? Infinity
          : 0,
    listed: significant && (size === null ? shiftAbsolute !== 0 : size > s.minChangePercent),
  };
}

/**
 * A small count of events (failed jobs, deadlocks): whole numbers, at most 10 in 95 % of the
 * baseline. Its level moves by whole events, so one event looks like a large step in percent.
 */
function rareEvents(baseline: MinuteValue[], recent: MinuteValue[], baselineP95: number): boolean {
  const whole = (m: MinuteValue) => m.v >= 0 && Number.isInteger(m.v);
  return baselineP95 <= 10 && baseline.every(whole) && recent.every(whole);
}

/** New events an hour in the recent window over the baseline's (the rises of the count). */
function eventRateRise(baseline: MinuteValue[], recent: MinuteValue[]): number {
  const rate = (ms: MinuteValue[]) => {
    let events = 0;
    for (let i = 1; i < ms.length; i++)
      events += Math.max(0, (ms[i] as MinuteValue).v - (ms[i - 1] as MinuteValue).v);
    return events / Math.max(1, ms.length / 60);
  };
  return rate(recent) - rate(baseline);
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
