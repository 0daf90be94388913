// Per-minute aggregates of the points a flush really inserted, and their rows for rollup_1m's
// COPY. Computed in the worker so the flush transaction sends ~1 row per series and minute.
import { BinaryCopyWriter, type RollupStats } from './copy-binary.js';
import { SketchBuilder } from './sketch.js';
import { MINUTE, HOUR } from '../infra/time.js';

interface Acc extends Aggregate {
  seriesId: number;
  bucket: number;
  sketch: SketchBuilder;
}

/** One series' minutes being summed, and the one its last point was in. */
interface SeriesMinutes {
  last: Acc | null;
  byBucket: Map<number, Acc>;
}

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

export interface MinuteRollups extends AggregateColumns {
  seriesIds: number[];
  buckets: Date[];
  sketches: string[];
  /** The sketches before serialising, same order (for the metric-level rollups). */
  builders: SketchBuilder[];
  /** Hours touched, for rollup_dirty_hours. */
  hours: Date[];
}

export function aggregateMinutes(rows: {
  seriesId: ArrayLike<number>;
  ts: ArrayLike<number>;
  value: ArrayLike<number>;
}): MinuteRollups {
  const groups = new Map<number, SeriesMinutes>();
  const hours = new Set<number>();
  const n = rows.ts.length;
  for (let i = 0; i < n; i++) {
    const seriesId = rows.seriesId[i] as number;
    const ts = rows.ts[i] as number;
    const value = rows.value[i] as number;
    const bucket = ts >= 0 ? ts - (ts % MINUTE) : ts - (((ts % MINUTE) + MINUTE) % MINUTE);
    let bySeries = groups.get(seriesId);
    if (bySeries === undefined) {
      bySeries = { last: null, byBucket: new Map<number, Acc>() };
      groups.set(seriesId, bySeries);
    }
    // A series' points mostly come minute after minute: its last minute first, no lookup.
    let acc = bySeries.last !== null && bySeries.last.bucket === bucket ? bySeries.last : undefined;
    acc ??= bySeries.byBucket.get(bucket);
    if (acc === undefined) {
      acc = {
        seriesId,
        bucket,
        count: 0,
        sum: 0,
        min: value,
        max: value,
        last: value,
        lastTs: ts,
        sketch: new SketchBuilder(),
      };
      bySeries.byBucket.set(bucket, acc);
      hours.add(bucket - (((bucket % HOUR) + HOUR) % HOUR));
    }
    bySeries.last = acc;
    acc.count += 1;
    acc.sum += value;
    if (value < acc.min) acc.min = value;
    if (value > acc.max) acc.max = value;
    if (ts >= acc.lastTs) {
      acc.last = value;
      acc.lastTs = ts;
    }
    acc.sketch.add(value);
  }
  const out: MinuteRollups = {
    seriesIds: [],
    buckets: [],
    counts: [],
    sums: [],
    mins: [],
    maxes: [],
    lasts: [],
    lastTimes: [],
    sketches: [],
    builders: [],
    hours: [],
  };
  for (const bySeries of groups.values()) {
    for (const a of bySeries.byBucket.values()) {
      out.seriesIds.push(a.seriesId);
      out.buckets.push(new Date(a.bucket));
      pushAggregate(out, a);
      out.sketches.push(a.sketch.toJSON());
      out.builders.push(a.sketch);
    }
  }
  out.hours = [...hours].sort((a, b) => a - b).map((h) => new Date(h));
  return out;
}

/** The rows of `m` as a binary COPY stream for rollup_1m (rollup_1m_copy.sql's columns). */
export function minuteRollupCopy(m: MinuteRollups): Buffer[] {
  const w = new BinaryCopyWriter();
  for (let i = 0; i < m.seriesIds.length; i++) {
    w.row(9);
    w.int8(m.seriesIds[i] as number);
    w.timestamptz((m.buckets[i] as Date).getTime());
    w.int8(m.counts[i] as number);
    w.float8(m.sums[i] as number);
    w.float8(m.mins[i] as number);
    w.float8(m.maxes[i] as number);
    w.float8(m.lasts[i] as number);
    w.timestamptz((m.lastTimes[i] as Date).getTime());
    w.jsonb(m.sketches[i] as string);
  }
  return w.finish();
}
