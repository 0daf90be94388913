// Metric-level rollups: every series of a metric merged, at 1 minute, 5 minutes, 1 hour and
// 1 day. A flush appends partial rows (metric_rollup_partial) in its own transaction; the
// compaction step merges them into metric_rollup; readers take both. A read covers its range
// with the widest buckets that fit (a 24 h summary: ~23 hours, a few 5-minute and 1-minute
// buckets at the edges), so it costs per metric and bucket asked for, never per series × minute.
import {
  floorTo,
  RollupAcc,
  StoredQuantiles,
  WIDTHS_MS,
  type Queryable,
  type RowValues,
} from './metric-rollup-rows.js';
import { sql } from './queries.js';
import { EncodedSketch, SketchAcc } from './sketch.js';

export interface Segment {
  widthMs: number;
  /** Buckets of this width that start in [from, to). */
  from: number;
  to: number;
}

/**
 * The fewest buckets that tile [from, to) exactly (both minute-aligned): the widest width
 * whose aligned buckets fit, and narrower ones at the edges.
 */
export function cover(from: number, to: number): Segment[] {
  const out: Segment[] = [];
  const go = (a: number, b: number, i: number): void => {
    if (a >= b) return;
    const w = WIDTHS_MS[i] as number;
    if (i === WIDTHS_MS.length - 1) {
      out.push({ widthMs: w, from: a, to: b });
      return;
    }
    const lo = Math.ceil(a / w) * w;
    const hi = Math.floor(b / w) * w;
    if (lo >= hi) return go(a, b, i + 1);
    go(a, lo, i + 1);
    out.push({ widthMs: w, from: lo, to: hi });
    go(hi, b, i + 1);
  };
  go(from, to, 0);
  return out;
}

/** Segments whose buckets each fall inside one output bucket of `resolutionMs`. */
export function coverBuckets(from: number, to: number, resolutionMs: number): Segment[] {
  const out: Segment[] = [];
  for (let t = floorTo(from, resolutionMs); t < to; t += resolutionMs) {
    for (const s of cover(Math.max(t, from), Math.min(t + resolutionMs, to))) {
      const prev = out[out.length - 1];
      if (prev && prev.widthMs === s.widthMs && prev.to === s.from) prev.to = s.to;
      else out.push(s);
    }
  }
  return out;
}

/**
 * A range of one metric merged by metric_rollup_totals.sql: `series` holds concatenated
 * (length, bitmap) pairs and `sketch` concatenated sketches.
 */
type MergedRow = RowValues;

function accOf(r: MergedRow): RollupAcc {
  const acc = new RollupAcc();
  acc.addStats(r.count, r.sum, r.min, r.max, r.last, r.last_ms);
  acc.sketch.mergeEncodedAll(r.sketch);
  acc.series.mergeEncodedAll(r.series);
  return acc;
}

const segmentParams = (segments: Segment[]) => [
  segments.map((s) => s.widthMs / 1_000),
  segments.map((s) => new Date(s.from)),
  segments.map((s) => new Date(s.to)),
];

/** Per metric (one, or all when `metricId` is null), everything in the segments, merged. */
async function readTotals(
  db: Queryable,
  segments: Segment[],
  metricId: number | null,
): Promise<MergedRow[]> {
  return db.manyOrNone<MergedRow>(sql.metricRollupTotals, [...segmentParams(segments), metricId]);
}

// Metric ids and names never change once given (metrics are never deleted), so each process
// keeps them, per database, instead of asking on every read.
interface Names {
  idOf: Map<string, number>;
  nameOf: Map<number, string>;
}
const namesByDb = new WeakMap<object, Names>();

function namesOf(db: Queryable): Names {
  let names = namesByDb.get(db);
  if (names === undefined) namesByDb.set(db, (names = { idOf: new Map(), nameOf: new Map() }));
  return names;
}

async function loadNames(db: Queryable): Promise<Names> {
  const names = namesOf(db);
  for (const r of await db.manyOrNone<{ id: number; name: string }>(sql.metricsList)) {
    names.idOf.set(r.name, r.id);
    names.nameOf.set(r.id, r.name);
  }
  return names;
}

export async function metricIdOf(db: Queryable, name: string): Promise<number | null> {
  // One query loads every name: a dashboard opening metric after metric asks once.
  const known = namesOf(db).idOf.get(name);
  return known ?? (await loadNames(db)).idOf.get(name) ?? null;
}

/** Per metric, everything stored over [from, to) (minute-aligned), merged. */
export async function readMetricTotals(
  db: Queryable,
  from: number,
  to: number,
): Promise<{ name: string; acc: RollupAcc }[]> {
  const rows = await readTotals(db, cover(from, to), null);
  let names = namesOf(db);
  if (rows.some((r) => !names.nameOf.has(r.metric_id))) names = await loadNames(db);
  return rows
    .map((r) => ({ name: names.nameOf.get(r.metric_id) ?? String(r.metric_id), acc: accOf(r) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One metric over [from, to) (minute-aligned), merged. */
export async function readMetricRange(
  db: Queryable,
  metricId: number,
  from: number,
  to: number,
): Promise<RollupAcc> {
  const [row] = await readTotals(db, cover(from, to), metricId);
  return row ? accOf(row) : new RollupAcc();
}

/** A trend bucket: its totals, and its sketch as quantiles can be asked of it. */
export interface BucketTotals {
  t: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  sketch: Pick<SketchAcc, 'quantiles'>;
}

/**
 * One stored row as metric_rollup_read.sql packs it: with its sketch, or, for a compacted row
 * alone in its output bucket, with its stored quantiles instead.
 */
interface PackedRow {
  t: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  sketch: Uint8Array | StoredQuantiles;
}

const PACKED_HEAD = 5 * 8 + 4;
const PACKED_QUANTILES = 4 * 8;

/** The rows of metric_rollup_read.sql's packed value; the sketches are views, not copies. */
export function unpackRows(packed: Buffer | null): PackedRow[] {
  const rows: PackedRow[] = [];
  if (packed === null) return rows;
  for (let at = 0; at < packed.length;) {
    if (at + PACKED_HEAD > packed.length) throw new RangeError('truncated packed rollup rows');
    const length = packed.readInt32BE(at + 40);
    const body = at + PACKED_HEAD;
    const end = body + (length < 0 ? PACKED_QUANTILES : length);
    if (end > packed.length) throw new RangeError('truncated packed rollup rows');
    rows.push({
      t: packed.readDoubleBE(at),
      count: packed.readDoubleBE(at + 8),
      sum: packed.readDoubleBE(at + 16),
      min: packed.readDoubleBE(at + 24),
      max: packed.readDoubleBE(at + 32),
      sketch:
        length < 0
          ? new StoredQuantiles([0, 8, 16, 24].map((o) => packed.readDoubleBE(body + o)))
          : packed.subarray(body, end),
    });
    at = end;
  }
  return rows;
}

/**
 * One metric over [from, to) in buckets of `resolutionMs` (epoch-aligned), merged per bucket.
 * A bucket that is one stored row (most of them: 7d/1h is 168 hour rows) is read as stored;
 * only buckets of several rows are merged.
 */
export async function readMetricBuckets(
  db: Queryable,
  metricId: number,
  from: number,
  to: number,
  resolutionMs: number,
): Promise<BucketTotals[]> {
  const { packed } = await db.one<{ packed: Buffer | null }>(sql.metricRollupRead, [
    ...segmentParams(coverBuckets(from, to, resolutionMs)),
    metricId,
    resolutionMs,
  ]);
  const byBucket = new Map<number, PackedRow[]>();
  for (const r of unpackRows(packed)) {
    const t = floorTo(r.t, resolutionMs);
    const group = byBucket.get(t);
    if (group === undefined) byBucket.set(t, [r]);
    else group.push(r);
  }
  const out: BucketTotals[] = [];
  for (const [t, group] of byBucket) {
    const [first] = group as [PackedRow];
    if (group.length === 1) {
      const { count, sum, min, max, sketch } = first;
      out.push({
        t,
        count,
        sum,
        min,
        max,
        sketch: sketch instanceof StoredQuantiles ? sketch : new EncodedSketch(sketch),
      });
      continue;
    }
    const sketch = new SketchAcc();
    const b: BucketTotals = { t, count: 0, sum: 0, min: Infinity, max: -Infinity, sketch };
    for (const r of group) {
      b.count += r.count;
      b.sum += r.sum;
      if (r.min < b.min) b.min = r.min;
      if (r.max > b.max) b.max = r.max;
      // The query sends quantiles in place of a sketch only for a bucket's single row.
      if (r.sketch instanceof StoredQuantiles) throw new Error('a merged bucket lacks a sketch');
      sketch.mergeEncoded(r.sketch);
    }
    out.push(b);
  }
  return out.sort((a, b) => a.t - b.t);
}
