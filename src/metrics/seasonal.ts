// The expected level of a metric at any minute, learned from its baseline: a daily profile
// (15-minute slots of the day, UTC) times a day level per calendar day, which is how weekly
// seasonality shows in a baseline shorter than two weeks.
//
// Why this model: a weekly-seasonal model proper (a level per slot of the week) needs several
// weeks of history (Datadog's weekly-seasonal algorithms ask for three). The default baseline
// is the six days before the recent one, which never holds the recent day's slots of the week.
// It does hold both calendar days the recent day touches, each in part (the day before today
// from midnight to the recent window's start, and today's weekday a week ago from that time to
// midnight), so each gets its own level, measured on the part the baseline holds. Between two
// days the level moves over a blend after midnight whose width (0–6 h) is fitted on the
// baseline's own day changes. Longer baselines use every week they hold: a day level falls back
// to the same weekday a week (or two, three) earlier.
//
// `auto` models the week only when it is there: when day levels explain the baseline clearly
// better than the daily profile alone (residual variance down by a fifth at least, and some day
// 10 % off the typical one).

import { median } from './stats.js';
import { MINUTE, HOUR, DAY } from '../infra/time.js';

export type Seasonality = 'auto' | 'weekly' | 'daily' | 'none';

export interface Point {
  t: number;
  v: number;
}

export interface Fitted {
  /** The model used after `auto` chose. */
  kind: 'weekly' | 'daily' | 'none';
  /** Expected value at time t (epoch ms); NaN where the baseline cannot tell (weekly only). */
  expected: (t: number) => number;
  /** Fitted blend width at midnight, hours (weekly only, else 0). */
  blendHours: number;
}

export const SLOT_MS = 15 * MINUTE;
const SLOTS = DAY / SLOT_MS;
/** A day's level needs this much of it in the baseline (outside the blend after midnight if it can). */
const MIN_DAY_COVERAGE_MS = HOUR;
const BLEND_CANDIDATES_H = [0, 1, 2, 3, 4, 6];
const MIN_DAYS_PER_SLOT = 3;

const dayOf = (t: number) => Math.floor(t / DAY);
const slotOfDay = (t: number) => Math.floor((t - dayOf(t) * DAY) / SLOT_MS);

const smoothstep = (x: number) => (x <= 0 ? 0 : x >= 1 ? 1 : x * x * (3 - 2 * x));

/** Means per 15-minute slot, in time order. */
export function slotMeans(points: Point[]): Point[] {
  const sums = new Map<number, [number, number]>();
  for (const p of points) {
    const k = Math.floor(p.t / SLOT_MS);
    const s = sums.get(k);
    if (s) {
      s[0] += p.v;
      s[1] += 1;
    } else sums.set(k, [p.v, 1]);
  }
  return [...sums.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([k, [sum, n]]) => ({ t: k * SLOT_MS, v: sum / n }));
}

/** The daily profile: per slot of the day, the median of `value(p)` over the baseline. */
function profileOf(slots: Point[], value: (p: Point) => number): Float64Array {
  const per: number[][] = Array.from({ length: SLOTS }, () => []);
  for (const p of slots) {
    const x = value(p);
    if (Number.isFinite(x)) per[slotOfDay(p.t)]?.push(x);
  }
  const out = new Float64Array(SLOTS);
  // A slot of the day the baseline saw on fewer than three days (or, in a baseline shorter
  // than that, fewer than the whole days it spans, or than its best-covered slot) has no level
  // (NaN), and its minutes are not judged: one or two days (a Thursday and a Saturday) of a
  // six-day baseline say nothing typical. (A one-day baseline that does not start on a slot
  // boundary sees its first slot of the day twice, at both ends: that must not ask two days
  // of every other slot.)
  let first = Infinity;
  let last = -Infinity;
  for (const p of slots) {
    first = Math.min(first, p.t);
    last = Math.max(last, p.t);
  }
  const wholeDays = Math.max(1, Math.floor((last + SLOT_MS - first) / DAY));
  const need = Math.min(MIN_DAYS_PER_SLOT, wholeDays, Math.max(...per.map((xs) => xs.length)));
  per.forEach((xs, k) => (out[k] = xs.length >= need ? median(xs) : NaN));
  return out;
}

/**
 * How one day relates to the profile: v ≈ a + b · P(slot). A day of the typical kind has a = 0,
 * b = 1. A quiet weekend scales the busy part of the day, not always its floor (the event
 * loop's lag at night is the same on a Sunday), so where the baseline holds enough of a day
 * (two hours, over a fair part of the profile's range) both are fitted; else only b.
 */
interface DayLevel {
  a: number;
  b: number;
}

/** The day's level as one number: its value at the profile's mean, over that mean. */
const effective = (l: DayLevel, mean: number) => (l.a + l.b * mean) / mean;

function levelsOf(slots: Point[], profile: Float64Array, blendMs: number): Map<number, DayLevel> {
  const seen = Array.from(profile).filter((x) => !Number.isNaN(x));
  const lo = Math.min(...seen);
  const hi = Math.max(...seen);
  const perDay = new Map<number, { x: number[]; y: number[] }>();
  for (const p of slots) {
    const d = dayOf(p.t);
    // Inside the blend a day's level is mixed with the day before's: never measured there.
    if (p.t - d * DAY < blendMs) continue;
    const x = profile[slotOfDay(p.t)] as number;
    if (!(x > 0)) continue;
    let day = perDay.get(d);
    if (!day) perDay.set(d, (day = { x: [], y: [] }));
    day.x.push(x);
    day.y.push(p.v);
  }
  const levels = new Map<number, DayLevel>();
  for (const [d, { x, y }] of perDay) {
    if (x.length * SLOT_MS < MIN_DAY_COVERAGE_MS) continue;
    const scaleOnly: DayLevel = { a: 0, b: median(y.map((v, i) => v / (x[i] as number))) };
    const span = Math.max(...x) - Math.min(...x);
    if (x.length * SLOT_MS < 2 * HOUR || !(hi > lo) || span < 0.25 * (hi - lo)) {
      levels.set(d, scaleOnly);
      continue;
    }
    const mx = x.reduce((acc, v) => acc + v, 0) / x.length;
    const my = y.reduce((acc, v) => acc + v, 0) / y.length;
    let sxy = 0;
    let sxx = 0;
    x.forEach((xi, i) => {
      sxy += (xi - mx) * ((y[i] as number) - my);
      sxx += (xi - mx) ** 2;
    });
    const b = sxy / sxx;
    const a = my - b * mx;
    // A fit that makes the day's lowest expected value non-positive is no model of it, and
    // one that explains the day hardly better than scaling is noise: scaling it is, then.
    const error = (l: DayLevel) =>
      x.reduce(
        (acc, xi, i) => acc + (((y[i] as number) - l.a - l.b * xi) / (l.a + l.b * xi)) ** 2,
        0,
      );
    const affine = { a, b };
    levels.set(
      d,
      b > 0 && a + b * lo > 0 && error(affine) < 0.5 * error(scaleOnly) ? affine : scaleOnly,
    );
  }
  return levels;
}

function sameWeekday(levels: Map<number, DayLevel>, day: number): DayLevel | undefined {
  const own = levels.get(day);
  if (own !== undefined) return own;
  for (let w = 1; w <= 4; w++) {
    const near = levels.get(day - 7 * w) ?? levels.get(day + 7 * w);
    if (near !== undefined) return near;
  }
  return undefined;
}

/**
 * A day's level: its own, else the same weekday 1–4 weeks away, else that of the days on
 * either side when they agree (within 10 %: a working day between working days); undefined
 * when none of these holds (the day's level cannot be told from a shift then).
 */
function levelFor(levels: Map<number, DayLevel>, day: number, mean: number): DayLevel | undefined {
  const known = sameWeekday(levels, day);
  if (known !== undefined) return known;
  const before = sameWeekday(levels, day - 1);
  const after = sameWeekday(levels, day + 1);
  if (
    before !== undefined &&
    after !== undefined &&
    Math.abs(effective(before, mean) / effective(after, mean) - 1) <= 0.1
  )
    return { a: (before.a + after.a) / 2, b: (before.b + after.b) / 2 };
  return undefined;
}

/** The day level at time t, blended with the day before's after midnight. */
function levelAt(
  levels: Map<number, DayLevel>,
  mean: number,
  blendMs: number,
): (t: number) => DayLevel | undefined {
  return (t) => {
    const d = dayOf(t);
    const cur = levelFor(levels, d, mean);
    const into = t - d * DAY;
    if (blendMs <= 0 || into >= blendMs || cur === undefined) return cur;
    const prev = levelFor(levels, d - 1, mean);
    if (prev === undefined) return undefined;
    const f = smoothstep(into / blendMs);
    return { a: prev.a + (cur.a - prev.a) * f, b: prev.b + (cur.b - prev.b) * f };
  };
}

/** Expected values under day levels and a profile; NaN on a day the baseline cannot tell. */
function weeklyExpected(
  levels: Map<number, DayLevel>,
  profile: Float64Array,
  blendMs: number,
): (t: number) => number {
  const level = levelAt(levels, meanOf(profile), blendMs);
  return (t) => {
    const l = level(t);
    return l === undefined ? NaN : l.a + l.b * (profile[slotOfDay(t)] as number);
  };
}

/** The mean of the slots the baseline saw. */
function meanOf(xs: Float64Array): number {
  let sum = 0;
  let n = 0;
  for (const x of xs)
    if (!Number.isNaN(x)) {
      sum += x;
      n += 1;
    }
  return sum / n;
}

const sse = (slots: Point[], expected: (t: number) => number) => {
  let s = 0;
  for (const p of slots) {
    const e = expected(p.t);
    if (e > 0) s += (p.v / e - 1) ** 2; // NaN (an unknown day) is skipped too
  }
  return s;
};

/**
 * Fits the expected level on the baseline's 15-minute slot means. A profile that is not
 * positive everywhere is modelled as daily, additively, by the caller's residuals.
 */
export function fit(baseline: Point[], seasonality: Seasonality): Fitted {
  const slots = slotMeans(baseline);
  const flat = median(slots.map((p) => p.v));
  if (seasonality === 'none' || slots.length === 0)
    return { kind: 'none', expected: () => flat, blendHours: 0 };
  const daily = profileOf(slots, (p) => p.v);
  const dailyModel: Fitted = {
    kind: 'daily',
    expected: (t) => daily[slotOfDay(t)] as number,
    blendHours: 0,
  };
  const positive = (xs: Float64Array) => Array.from(xs).every((x) => Number.isNaN(x) || x > 0);
  if (seasonality === 'daily' || !positive(daily)) return dailyModel;

  // Day levels and the profile, each measured given the other (two rounds), for each blend
  // width; the width whose model leaves the least squared error wins.
  let best:
    { model: Fitted; error: number; levels: Map<number, DayLevel>; mean: number } | undefined;
  for (const hours of BLEND_CANDIDATES_H) {
    const blendMs = hours * HOUR;
    let profile = daily;
    let levels = levelsOf(slots, profile, blendMs);
    for (let round = 0; round < 2; round++) {
      const level = levelAt(levels, meanOf(profile), blendMs);
      profile = profileOf(slots, (p) => {
        const l = level(p.t);
        return l === undefined ? NaN : (p.v - l.a) / l.b;
      });
      if (!positive(profile)) return dailyModel;
      levels = levelsOf(slots, profile, blendMs);
    }
    if (levels.size === 0) return dailyModel;
    const mean = meanOf(profile);
    // Most metrics have no weekly cycle: when no day is even 5 % off the typical one at the
    // first width, no other width makes one 10 % off, and the other widths are not tried.
    if (seasonality === 'auto' && !best && spreadOf(levels, mean) < 0.05) return dailyModel;
    const expected = weeklyExpected(levels, profile, blendMs);
    const model: Fitted = { kind: 'weekly', expected, blendHours: hours };
    const error = sse(slots, expected);
    if (!best || error < best.error * 0.98) best = { model, error, levels, mean };
  }
  if (!best) return dailyModel;
  if (seasonality === 'weekly') return best.model;
  const spread = spreadOf(best.levels, best.mean);
  const dailyError = sse(slots, dailyModel.expected);
  return best.error <= 0.8 * dailyError && spread >= 0.1 ? best.model : dailyModel;
}

/** How far the day furthest from the typical one is off it, as a fraction. */
function spreadOf(levels: Map<number, DayLevel>, mean: number): number {
  const effectives = [...levels.values()].map((l) => effective(l, mean));
  const typical = median(effectives);
  return Math.max(...effectives.map((l) => Math.abs(l / typical - 1)));
}
