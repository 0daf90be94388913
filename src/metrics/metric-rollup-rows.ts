// Metric-level rollup rows: the accumulator one row is merged in, the set of rows a flush,
// compaction or rebuild produces, and what a flush appends (metric_rollup_partial) from its
// per-series minutes. Reading is in metric-rollup.ts, compaction and rebuilds in
// metric-rollup-upkeep.ts.
import type { Db } from '../infra/db.js';
import { BinaryCopyWriter } from './copy-binary.js';
import { addMinuteSketch, pushAggregate, StatsAcc, type MinuteRollups } from './rollup.js';
import { SeriesSet } from './series-set.js';
import { SketchAcc } from './sketch.js';
import { MINUTE, HOUR, DAY } from '../infra/time.js';

/** Bucket widths kept, widest first. Every width divides the next wider one. */
export const WIDTHS_MS = [DAY, HOUR, 5 * MINUTE, MINUTE] as const;

export type Queryable = Pick<Db, 'none' | 'one' | 'manyOrNone' | 'oneOrNone'>;

/** Where a series sits in the metric-level rollups. */
export interface SeriesMeta {
  metricId: number;
  ordinal: number;
}

/** A rollup row being merged: count, sum, extremes, latest value, sketch and series set. */
export class RollupAcc extends StatsAcc {
  readonly sketch = new SketchAcc();
  readonly series = new SeriesSet();

  /** Adds a stored row (either table). */
  addRow(r: StoredRow): void {
    this.addStats(r.count, r.sum, r.min, r.max, r.last, r.last_ms);
    this.sketch.mergeEncoded(r.sketch);
    this.series.mergeEncoded(r.series);
  }

  merge(o: RollupAcc): void {
    this.addStats(o.count, o.sum, o.min, o.max, o.last, o.lastTs);
    this.sketch.merge(o.sketch);
    this.series.merge(o.series);
  }
}

/**
 * The quantiles every reader asks of a bucket (p50, p90, p95, p99, clamped to its min and
 * max), stored with each compacted row so a bucket of one row needs no sketch.
 */
export const STORED_QUANTILES: number[] = [0.5, 0.9, 0.95, 0.99];

/** A bucket's quantiles as stored: answers exactly the STORED_QUANTILES. */
export class StoredQuantiles {
  constructor(private readonly values: readonly number[]) {}

  quantiles(qs: readonly number[]): number[] {
    return qs.map((q) => {
      const i = STORED_QUANTILES.indexOf(q);
      if (i < 0)
        throw new RangeError(`quantile ${q} is not stored (only ${STORED_QUANTILES.join(', ')})`);
      return this.values[i] as number;
    });
  }
}

/** An aggregate's plain figures as the queries return them. */
export interface AggregateRow {
  metric_id: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  last_ms: number;
}

/** What every metric-level row the queries return holds, whole or merged. */
export interface RowValues extends AggregateRow {
  series: Buffer;
  sketch: Buffer;
}

/** A metric_rollup or metric_rollup_partial row. */
export interface StoredRow extends RowValues {
  bucket_ms: number;
}

/** Rows keyed by metric, width and bucket, in the column form the write queries take. */
export class RowSet {
  private readonly byMetric = new Map<number, Map<number, RollupAcc>>();

  /** The accumulator of one key; width is an index into WIDTHS_MS. */
  at(metricId: number, widthIndex: number, bucket: number): RollupAcc {
    let m = this.byMetric.get(metricId);
    if (m === undefined) this.byMetric.set(metricId, (m = new Map<number, RollupAcc>()));
    // Buckets are whole minutes, so bucket × 4 + width index names a key uniquely.
    const key = bucket * 4 + widthIndex;
    let acc = m.get(key);
    if (acc === undefined) m.set(key, (acc = new RollupAcc()));
    return acc;
  }

  get size(): number {
    let n = 0;
    for (const m of this.byMetric.values()) n += m.size;
    return n;
  }

  /**
   * The rows as a binary COPY stream: metric_rollup_partial_copy.sql's column order, and with
   * `quantiles` the stored p50, p90, p95 and p99 after them (metric_rollup_stage_copy.sql).
   */
  copyChunks(quantiles = false): Buffer[] {
    const w = new BinaryCopyWriter();
    for (const [metricId, m] of this.byMetric) {
      for (const [key, a] of m) {
        const widthIndex = key % 4;
        w.row(quantiles ? 15 : 11);
        w.int4(metricId);
        w.int4((WIDTHS_MS[widthIndex] as number) / 1_000);
        w.timestamptz((key - widthIndex) / 4);
        w.stats(a);
        w.bytea(a.series.encode());
        w.bytea(a.sketch.encode());
        if (quantiles) for (const q of a.sketch.quantiles(STORED_QUANTILES, a)) w.float8(q);
      }
    }
    return w.finish();
  }

  columns(): unknown[] {
    const c = {
      metricIds: [] as number[],
      widths: [] as number[],
      buckets: [] as Date[],
      counts: [] as number[],
      sums: [] as number[],
      mins: [] as number[],
      maxes: [] as number[],
      lasts: [] as number[],
      lastTimes: [] as Date[],
      series: [] as Buffer[],
      sketches: [] as Buffer[],
      q50: [] as number[],
      q90: [] as number[],
      q95: [] as number[],
      q99: [] as number[],
    };
    for (const [metricId, m] of this.byMetric) {
      for (const [key, a] of m) {
        const widthIndex = key % 4;
        c.metricIds.push(metricId);
        c.widths.push((WIDTHS_MS[widthIndex] as number) / 1_000);
        c.buckets.push(new Date((key - widthIndex) / 4));
        pushAggregate(c, a);
        c.series.push(a.series.encode());
        c.sketches.push(a.sketch.encode());
        const [q50, q90, q95, q99] = a.sketch.quantiles(STORED_QUANTILES, a) as [
          number,
          number,
          number,
          number,
        ];
        c.q50.push(q50);
        c.q90.push(q90);
        c.q95.push(q95);
        c.q99.push(q99);
      }
    }
    return Object.values(c);
  }
}

export const widthIndexOf = (seconds: number): number => {
  const i = (WIDTHS_MS as readonly number[]).indexOf(seconds * 1_000);
  if (i < 0) throw new RangeError(`no metric rollup width of ${seconds} s`);
  return i;
};

export const floorTo = (ms: number, width: number) => ms - (((ms % width) + width) % width);

/**
 * The metric-level rows of what a flush inserted, at every width, from its per-series minutes,
 * as a binary COPY stream for metric_rollup_partial (empty when there are none). The flush
 * sends it in its own transaction.
 */
export function metricRollupCopy(
  m: MinuteRollups,
  meta: (seriesId: number) => SeriesMeta,
): Buffer[] {
  const rows = new RowSet();
  // Per-series minutes into metric minutes, then metric minutes into the wider widths: the
  // wide rows cost one merge per metric minute, not one per series minute.
  const minuteIndex = WIDTHS_MS.length - 1;
  const minutes: [number, number, RollupAcc][] = [];
  for (let i = 0; i < m.length; i++) {
    const { metricId, ordinal } = meta(m.seriesIds[i] as number);
    const minute = m.buckets[i] as number;
    const acc = rows.at(metricId, minuteIndex, minute);
    if (acc.count === 0) minutes.push([metricId, minute, acc]);
    acc.addStats(
      m.counts[i] as number,
      m.sums[i] as number,
      m.mins[i] as number,
      m.maxes[i] as number,
      m.lasts[i] as number,
      m.lastTimes[i] as number,
    );
    acc.series.add(ordinal);
    addMinuteSketch(m, i, acc.sketch);
  }
  for (const [metricId, minute, acc] of minutes)
    for (let w = 0; w < minuteIndex; w++)
      rows.at(metricId, w, floorTo(minute, WIDTHS_MS[w] as number)).merge(acc);
  return rows.size > 0 ? rows.copyChunks() : [];
}
