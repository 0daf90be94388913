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

export const SLOT_MS = 15 * 60_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const SLOTS = DAY_MS / SLOT_MS;
/** A day's level needs this much of it in the baseline (outside the blend after midnight if it can). */
const MIN_DAY_COVERAGE_MS = HOUR_MS;
const BLEND_CANDIDATES_H = [0, 1, 2, 3, 4, 6];

const dayOf = (t: number) => Math.floor(t / DAY_MS);
const slotOfDay = (t: number) => Math.floor((t - dayOf(t) * DAY_MS) / SLOT_MS);

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

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
  const all = median(slots.map(value).filter(Number.isFinite));
  const out = new Float64Array(SLOTS);
  per.forEach((xs, k) => (out[k] = xs.length > 0 ? median(xs) : all));
  return out;
}

function levelsOf(slots: Point[], profile: Float64Array, blendMs: number): Map<number, number> {
  // Per day: the ratios outside the blend after midnight, and those inside it.
  const perDay = new Map<number, { clear: number[]; blended: number[] }>();
  for (const p of slots) {
    const base = profile[slotOfDay(p.t)] as number;
    if (!(base > 0)) continue;
    const d = dayOf(p.t);
    let day = perDay.get(d);
    if (!day) perDay.set(d, (day = { clear: [], blended: [] }));
    (p.t - d * DAY_MS < blendMs ? day.blended : day.clear).push(p.v / base);
  }
  const levels = new Map<number, number>();
  for (const [d, { clear, blended }] of perDay) {
    // Inside the blend a day's level is mixed with the day before's: never measured there.
    void blended;
    if (clear.length * SLOT_MS >= MIN_DAY_COVERAGE_MS) levels.set(d, median(clear));
  }
  return levels;
}

function sameWeekday(levels: Map<number, number>, day: number): number | undefined {
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
 * either side when they agree (within 10 %: a working day between working days); NaN when
 * none of these holds (the day's level cannot be told from a shift then).
 */
function levelFor(levels: Map<number, number>, day: number): number {
  const known = sameWeekday(levels, day);
  if (known !== undefined) return known;
  const before = sameWeekday(levels, day - 1);
  const after = sameWeekday(levels, day + 1);
  if (before !== undefined && after !== undefined && Math.abs(before / after - 1) <= 0.1)
    return (before + after) / 2;
  return NaN;
}

function weeklyFactor(levels: Map<number, number>, blendMs: number): (t: number) => number {
  return (t) => {
    const d = dayOf(t);
    const cur = levelFor(levels, d);
    const into = t - d * DAY_MS;
    if (blendMs <= 0 || into >= blendMs) return cur;
    const prev = levelFor(levels, d - 1);
    return prev + (cur - prev) * smoothstep(into / blendMs);
  };
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
 * Fits the expected level on the baseline's 15-minute slot means. Values are expected to be
 * level-like (a day level multiplies the profile); a profile that is not positive everywhere
 * is modelled as daily, additively, by the caller's residuals.
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
  if (seasonality === 'daily' || !Array.from(daily).every((x) => x > 0)) return dailyModel;

  // Day levels and the profile, each measured given the other (two rounds), for each blend
  // width; the width whose model leaves the least squared error wins.
  let best: { model: Fitted; error: number; levels: Map<number, number> } | undefined;
  for (const hours of BLEND_CANDIDATES_H) {
    const blendMs = hours * HOUR_MS;
    let profile = daily;
    let levels = levelsOf(slots, profile, Math.max(blendMs, 0));
    for (let round = 0; round < 2; round++) {
      const w = weeklyFactor(levels, blendMs);
      profile = profileOf(slots, (p) => p.v / w(p.t));
      if (!Array.from(profile).every((x) => x > 0)) return dailyModel;
      levels = levelsOf(slots, profile, blendMs);
    }
    const typical = median([...levels.values()]);
    if (!Number.isFinite(typical)) return dailyModel;
    const w = weeklyFactor(levels, blendMs);
    const p = profile;
    const model: Fitted = {
      kind: 'weekly',
      expected: (t) => (p[slotOfDay(t)] as number) * w(t),
      blendHours: hours,
    };
    const error = sse(slots, model.expected);
    if (!best || error < best.error * 0.98) best = { model, error, levels };
  }
  if (!best) return dailyModel;
  if (seasonality === 'weekly') return best.model;
  const typical = median([...best.levels.values()]);
  const spread = Math.max(...[...best.levels.values()].map((l) => Math.abs(l / typical - 1)));
  const dailyError = sse(slots, dailyModel.expected);
  return best.error <= 0.8 * dailyError && spread >= 0.1 ? best.model : dailyModel;
}
