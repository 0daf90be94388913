// Per-minute aggregates of the points a flush really inserted, and their rows for rollup_1m's
// COPY. Computed in the worker so the flush transaction sends ~1 row per series and minute.
import { BinaryCopyWriter, type RollupStats } from './copy-binary.js';
import { codeOf, type SketchAcc, type SketchBuilder, sketchJsonText, ZERO_CODE } from './sketch.js';
import { MINUTE, HOUR } from '../infra/time.js';

/** An aggregate's plain figures. */
export type Aggregate = RollupStats;

/** An aggregate being merged from others (rows, minutes, accumulators). */
export class StatsAcc implements Aggregate {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  last = NaN;
  lastTs = -Infinity;

  addStats(count: number, sum: number, min: number, max: number, last: number, lastTs: number) {
    this.count += count;
    this.sum += sum;
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
    if (lastTs > this.lastTs) {
      this.last = last;
      this.lastTs = lastTs;
    }
  }
}

/** The columns of aggregates as the array-parameter statements take them, one entry a row. */
export interface AggregateColumns {
  counts: number[];
  sums: number[];
  mins: number[];
  maxes: number[];
  lasts: number[];
  lastTimes: Date[];
}

export function pushAggregate(c: AggregateColumns, a: Aggregate): void {
  c.counts.push(a.count);
  c.sums.push(a.sum);
  c.mins.push(a.min);
  c.maxes.push(a.max);
  c.lasts.push(a.last);
  c.lastTimes.push(new Date(a.lastTs));
}

/**
 * Per-minute aggregates of a set of points, column-wise (no object per minute): row r is one
 * series' minute, rows grouped by series. Row r's sketch is the buckets codes[sketchAt[r],
 * sketchAt[r + 1]) (codeOf's form, ascending) with their counts, and zeros[r] zero values.
 */
export interface MinuteRollups {
  length: number;
  seriesIds: Float64Array;
  /** The minute's start, epoch ms. */
  buckets: Float64Array;
  counts: Float64Array;
  sums: Float64Array;
  mins: Float64Array;
  maxes: Float64Array;
  lasts: Float64Array;
  /** Epoch ms of the latest point. */
  lastTimes: Float64Array;
  sketchAt: Uint32Array;
  codes: Int32Array;
  codeCounts: Float64Array;
  zeros: Float64Array;
  /** Hours touched, for rollup_dirty_hours. */
  hours: Date[];
}

/** One series' minutes: the row of each, and the one its last point was in. */
interface SeriesMinutes {
  lastBucket: number;
  lastRow: number;
  rows: Map<number, number>;
}

/** Sorts xs[from, to) ascending: insertion sort for the few values of a minute. */
function sortRange(xs: Int32Array, from: number, to: number): void {
  if (to - from > 24) {
    xs.subarray(from, to).sort();
    return;
  }
  for (let i = from + 1; i < to; i++) {
    const v = xs[i] as number;
    let j = i - 1;
    while (j >= from && (xs[j] as number) > v) {
      xs[j + 1] = xs[j] as number;
      j--;
    }
    xs[j + 1] = v;
  }
}

const minuteOf = (ts: number) =>
  ts >= 0 ? ts - (ts % MINUTE) : ts - (((ts % MINUTE) + MINUTE) % MINUTE);

export function aggregateMinutes(rows: {
  seriesId: ArrayLike<number>;
  ts: ArrayLike<number>;
  value: ArrayLike<number>;
}): MinuteRollups {
  const n = rows.ts.length;
  // 1. Each point's row, numbered as first seen; rows counted.
  const rowOf = new Int32Array(n);
  const perRow: number[] = [];
  const groups = new Map<number, SeriesMinutes>();
  let prevSeries = NaN;
  let prev: SeriesMinutes | undefined;
  for (let i = 0; i < n; i++) {
    const seriesId = rows.seriesId[i] as number;
    const bucket = minuteOf(rows.ts[i] as number);
    let g = prev;
    if (seriesId !== prevSeries || g === undefined) {
      g = groups.get(seriesId);
      if (g === undefined) {
        g = { lastBucket: NaN, lastRow: -1, rows: new Map<number, number>() };
        groups.set(seriesId, g);
      }
      prevSeries = seriesId;
      prev = g;
    }
    let r: number;
    if (g.lastBucket === bucket) r = g.lastRow;
    else {
      const known = g.rows.get(bucket);
      if (known === undefined) {
        r = perRow.length;
        perRow.push(0);
        g.rows.set(bucket, r);
      } else r = known;
      g.lastBucket = bucket;
      g.lastRow = r;
    }
    rowOf[i] = r;
    (perRow[r] as number) += 1;
  }
  // 2. Output order: by series, then minutes as first seen; each row's place for its values.
  const length = perRow.length;
  const order = new Int32Array(length);
  const m = emptyMinutes(length, n);
  const start = new Uint32Array(length + 1);
  let k = 0;
  for (const [seriesId, g] of groups)
    for (const [bucket, r] of g.rows) {
      order[r] = k;
      m.seriesIds[k] = seriesId;
      m.buckets[k] = bucket;
      start[k + 1] = perRow[r] as number;
      k += 1;
    }
  for (let o = 0; o < length; o++) start[o + 1] = (start[o + 1] as number) + (start[o] as number);
  const fill = start.slice(0, length);
  // 3. Statistics, and each value's bucket code into its row's range.
  const values = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = order[rowOf[i] as number] as number;
    const ts = rows.ts[i] as number;
    const value = rows.value[i] as number;
    if (m.counts[o] === 0) {
      m.mins[o] = value;
      m.maxes[o] = value;
      m.lasts[o] = value;
      m.lastTimes[o] = ts;
    } else {
      if (value < (m.mins[o] as number)) m.mins[o] = value;
      if (value > (m.maxes[o] as number)) m.maxes[o] = value;
      if (ts >= (m.lastTimes[o] as number)) {
        m.lasts[o] = value;
        m.lastTimes[o] = ts;
      }
    }
    (m.counts[o] as number) += 1;
    (m.sums[o] as number) += value;
    values[(fill[o] as number)++] = codeOf(value);
  }
  // 4. Each row's codes sorted and counted: zeros (the lowest code) apart, then one per bucket.
  let c = 0;
  const hours = new Set<number>();
  for (let o = 0; o < length; o++) {
    const from = start[o] as number;
    const to = start[o + 1] as number;
    sortRange(values, from, to);
    m.sketchAt[o] = c;
    let j = from;
    while (j < to && values[j] === ZERO_CODE) j++;
    m.zeros[o] = j - from;
    while (j < to) {
      const code = values[j] as number;
      let e = j + 1;
      while (e < to && values[e] === code) e++;
      m.codes[c] = code;
      m.codeCounts[c] = e - j;
      c += 1;
      j = e;
    }
    const bucket = m.buckets[o] as number;
    hours.add(bucket - (((bucket % HOUR) + HOUR) % HOUR));
  }
  m.sketchAt[length] = c;
  m.hours = [...hours].sort((a, b) => a - b).map((h) => new Date(h));
  return m;
}

/** Rows for `length` minutes of `points` points, zeroed. */
function emptyMinutes(length: number, points: number): MinuteRollups {
  return {
    length,
    seriesIds: new Float64Array(length),
    buckets: new Float64Array(length),
    counts: new Float64Array(length),
    sums: new Float64Array(length),
    mins: new Float64Array(length),
    maxes: new Float64Array(length),
    lasts: new Float64Array(length),
    lastTimes: new Float64Array(length),
    sketchAt: new Uint32Array(length + 1),
    codes: new Int32Array(points),
    codeCounts: new Float64Array(points),
    zeros: new Float64Array(length),
    hours: [],
  };
}

/** Row r's sketch in its stored JSON form (keys as keyOf gives). */
export function minuteSketchJson(m: MinuteRollups, r: number): string {
  const to = m.sketchAt[r + 1] as number;
  return sketchJsonText(m.codes, m.codeCounts, m.sketchAt[r] as number, to, m.zeros[r] as number);
}

/**
 * Adds row r's sketch to a sketch being merged: a builder (the minutes of an hour into the
 * hour) or an accumulator (the metric-level rollups).
 */
export function addMinuteSketch(
  m: MinuteRollups,
  r: number,
  to: Pick<SketchBuilder | SketchAcc, 'addCode'>,
): void {
  for (let j = m.sketchAt[r] as number; j < (m.sketchAt[r + 1] as number); j++)
    to.addCode(m.codes[j] as number, m.codeCounts[j] as number);
  const zero = m.zeros[r] as number;
  if (zero > 0) to.addCode(ZERO_CODE, zero);
}

/** The rows of `m` as a binary COPY stream for rollup_1m (rollup_1m_copy.sql's columns). */
export function minuteRollupCopy(m: MinuteRollups): Buffer[] {
  const w = new BinaryCopyWriter();
  for (let i = 0; i < m.length; i++) {
    w.row(9);
    w.int8(m.seriesIds[i] as number);
    w.timestamptz(m.buckets[i] as number);
    w.int8(m.counts[i] as number);
    w.float8(m.sums[i] as number);
    w.float8(m.mins[i] as number);
    w.float8(m.maxes[i] as number);
    w.float8(m.lasts[i] as number);
    w.timestamptz(m.lastTimes[i] as number);
    const from = m.sketchAt[i] as number;
    w.jsonbSketch(m.codes, m.codeCounts, from, m.sketchAt[i + 1] as number, m.zeros[i] as number);
  }
  return w.finish();
}
