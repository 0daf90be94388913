// Regression analysis of one metric or series: the plan's baseline/recent comparison and
// severities, fixed where the plan is wrong — no division by a zero baseline, p95 from merged
// sketches, both directions, a change point so a regression is judged by its full size, a
// daily-cycle-aware baseline, and a significance test so noise is never an alert.
import { bestSplit, moments, welch } from './stats.js';

export type Severity = 'NORMAL' | 'WARNING' | 'CRITICAL';

export interface RegressionSettings {
  criticalPercent: number;
  warningPercent: number;
  minChangePercent: number;
  alpha: number;
  /** Shortest segment a change point may leave on either side. */
  minSegmentMinutes: number;
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
  /** Whether the plan's filter lets it into the report: a large enough, significant change. */
  listed: boolean;
}

const SLOT_MS = 15 * 60_000;
const DAY_MS = 86_400_000;
const slotOf = (t: number) => Math.floor((((t % DAY_MS) + DAY_MS) % DAY_MS) / SLOT_MS);

/**
 * Compares the recent minutes with the baseline minutes. Each minute is first set against the
 * baseline's level at the same time of day (15-minute slots), so a daily cycle is not a shift.
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

  // The baseline's level per time-of-day slot; a slot with no baseline falls back to the mean.
  const sums = new Float64Array(96);
  const counts = new Float64Array(96);
  for (const m of baseline) {
    const k = slotOf(m.t);
    sums[k] = (sums[k] as number) + m.v;
    counts[k] = (counts[k] as number) + 1;
  }
  const level = (t: number) => {
    const k = slotOf(t);
    return (counts[k] as number) > 0 ? (sums[k] as number) / (counts[k] as number) : b.mean;
  };
  // Relative deviations from the daily profile, or absolute ones around a zero baseline.
  const relative =
    !baselineZero &&
    Array.from(sums).every(
      (x, k) => (counts[k] as number) === 0 || Math.abs(x / (counts[k] as number)) > 1e-9 * scale,
    );
  const deviation = (m: MinuteValue) => (relative ? m.v / level(m.t) - 1 : m.v - level(m.t));
  const base = baseline.map(deviation);
  const rec = recent.map(deviation);
  const baseM = moments(base);

  let from = 0;
  let changePoint: string | null = null;
  const k = bestSplit(rec, s.minSegmentMinutes);
  if (k !== undefined) {
    const before = moments(rec, 0, k);
    const after = moments(rec, k);
    const step = relative
      ? ((1 + after.mean) / (1 + before.mean) - 1) * 100
      : after.mean - before.mean;
    // A change point only when the level really moved: significant and larger than the filter.
    if (
      welch(before, after).p < s.alpha &&
      (relative ? Math.abs(step) > s.minChangePercent : Math.abs(step) > 0)
    ) {
      from = k;
      changePoint = new Date((recent[k] as MinuteValue).t).toISOString();
    }
  }
  const segment = moments(rec, from);
  const test = welch(baseM, segment);
  const avgChange = baselineZero ? null : ((r.mean - b.mean) / Math.abs(b.mean)) * 100;
  let shift: number | null;
  if (baselineZero) shift = null;
  else if (changePoint === null) shift = avgChange;
  else if (relative) shift = ((1 + segment.mean) / (1 + baseM.mean) - 1) * 100;
  else shift = ((segment.mean - baseM.mean) / Math.abs(b.mean)) * 100;
  const shiftAbsolute = relative ? ((shift ?? 0) / 100) * b.mean : segment.mean - baseM.mean;
  const direction: 'up' | 'down' = (shift ?? shiftAbsolute) >= 0 ? 'up' : 'down';
  const bad = higherIsWorse ? direction === 'up' : direction === 'down';
  const significant = test.p < s.alpha;
  const size = shift === null ? null : Math.abs(shift);
  let severity: Severity = 'NORMAL';
  if (significant && bad) {
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
    listed: significant && (size === null ? shiftAbsolute !== 0 : size > s.minChangePercent),
  };
}
