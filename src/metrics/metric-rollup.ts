// Metric-level rollups: every series of a metric merged, at 1 minute, 5 minutes, 1 hour and
// 1 day. A flush appends partial rows (metric_rollup_partial) in its own transaction; the
// compaction step merges them into metric_rollup; readers take both. A read covers its range
// with the widest buckets that fit (a 24 h summary: ~23 hours, a few 5-minute and 1-minute
// buckets at the edges), so it costs per metric and bucket asked for, never per series × minute.
import { cancellableTx, throwIfAborted } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { BinaryCopyWriter } from './copy-binary.js';
import { sql } from './queries.js';
import type { MinuteRollups } from './rollup.js';
import { SeriesSet } from './series-set.js';
import { EncodedSketch, SketchAcc, type Sketch } from './sketch.js';
import { MINUTE, HOUR, DAY } from '../infra/time.js';

/** Bucket widths kept, widest first. Every width divides the next wider one. */
export const WIDTHS_MS = [DAY, HOUR, 5 * MINUTE, MINUTE] as const;

type Queryable = Pick<Db, 'none' | 'one' | 'manyOrNone' | 'oneOrNone'>;

/** Where a series sits in the metric-level rollups. */
export interface SeriesMeta {
  metricId: number;
  ordinal: number;
}

/** A rollup row being merged: count, sum, extremes, latest value, sketch and series set. */
export class RollupAcc {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  last = NaN;
  lastTs = -Infinity;
  readonly sketch = new SketchAcc();
  readonly series = new SeriesSet();

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

/** What every metric-level row the queries return holds, whole or merged. */
interface RowValues {
  metric_id: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  last_ms: number;
  series: Buffer;
  sketch: Buffer;
}

/** A metric_rollup or metric_rollup_partial row. */
export interface StoredRow extends RowValues {
  bucket_ms: number;
}

/** Rows keyed by metric, width and bucket, in the column form the write queries take. */
class RowSet {
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

  /** The rows as a binary COPY stream (metric_rollup_partial_copy.sql's column order). */
  copyChunks(): Buffer[] {
    const w = new BinaryCopyWriter();
    for (const [metricId, m] of this.byMetric) {
      for (const [key, a] of m) {
        const widthIndex = key % 4;
        w.row(11);
        w.int4(metricId);
        w.int4((WIDTHS_MS[widthIndex] as number) / 1_000);
        w.timestamptz((key - widthIndex) / 4);
        w.int8(a.count);
        w.float8(a.sum);
        w.float8(a.min);
        w.float8(a.max);
        w.float8(a.last);
        w.timestamptz(a.lastTs);
        w.bytea(a.series.encode());
        w.bytea(a.sketch.encode());
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
        c.counts.push(a.count);
        c.sums.push(a.sum);
        c.mins.push(a.min);
        c.maxes.push(a.max);
        c.lasts.push(a.last);
        c.lastTimes.push(new Date(a.lastTs));
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

const widthIndexOf = (seconds: number): number => {
  const i = (WIDTHS_MS as readonly number[]).indexOf(seconds * 1_000);
  if (i < 0) throw new RangeError(`no metric rollup width of ${seconds} s`);
  return i;
};

const floorTo = (ms: number, width: number) => ms - (((ms % width) + width) % width);

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
  for (let i = 0; i < m.seriesIds.length; i++) {
    const { metricId, ordinal } = meta(m.seriesIds[i] as number);
    const minute = (m.buckets[i] as Date).getTime();
    const acc = rows.at(metricId, minuteIndex, minute);
    if (acc.count === 0) minutes.push([metricId, minute, acc]);
    acc.addStats(
      m.counts[i] as number,
      m.sums[i] as number,
      m.mins[i] as number,
      m.maxes[i] as number,
      m.lasts[i] as number,
      (m.lastTimes[i] as Date).getTime(),
    );
    acc.series.add(ordinal);
    m.builders[i]?.addTo(acc.sketch);
  }
  for (const [metricId, minute, acc] of minutes)
    for (let w = 0; w < minuteIndex; w++)
      rows.at(metricId, w, floorTo(minute, WIDTHS_MS[w] as number)).merge(acc);
  return rows.size > 0 ? rows.copyChunks() : [];
}

// ---------------------------------------------------------------------------------------------
// Reading

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

// ---------------------------------------------------------------------------------------------
// Compaction and rebuilds. Both rewrite metric_rollup rows, so both hold the compaction lock.

interface KeyedRow extends StoredRow {
  width: number;
}

async function writeCompacted(t: Queryable, rows: RowSet): Promise<void> {
  if (rows.size > 0) await t.none(sql.metricRollupUpsert, rows.columns());
}

export interface CompactResult {
  /** Partial rows merged away. */
  partial: number;
  /** metric_rollup rows written. */
  rows: number;
}

/**
 * Merges partial rows into metric_rollup, `batch` at a time, until none is left (or `rounds`
 * ran). Another process already compacting makes this call return at once: its work is the
 * same. Flushes are never blocked: they only append partial rows.
 */
export async function compactMetricRollups(
  db: Db,
  opts: { batch?: number; rounds?: number; signal?: AbortSignal | undefined } = {},
): Promise<CompactResult> {
  const result: CompactResult = { partial: 0, rows: 0 };
  for (let round = 0; round < (opts.rounds ?? 20); round++) {
    // Each round commits on its own: stopping between rounds leaves nothing half done.
    throwIfAborted(opts.signal);
    const taken = await cancellableTx(db, opts.signal, 'compact metric rollups', async (t) => {
      const { locked } = await t.one<{ locked: boolean }>(sql.metricRollupLock, [false]);
      if (!locked) return 0;
      const partial = await t.manyOrNone<KeyedRow>(sql.metricRollupPartialTake, [
        opts.batch ?? 20_000,
      ]);
      if (partial.length === 0) return 0;
      const rows = new RowSet();
      for (const r of partial) rows.at(r.metric_id, widthIndexOf(r.width), r.bucket_ms).addRow(r);
      const keys = [
        ...new Map(partial.map((r) => [`${r.metric_id}:${r.width}:${r.bucket_ms}`, r])).values(),
      ];
      const current = await t.manyOrNone<KeyedRow>(sql.metricRollupCurrent, [
        keys.map((k) => k.metric_id),
        keys.map((k) => k.width),
        keys.map((k) => new Date(k.bucket_ms)),
      ]);
      for (const r of current) rows.at(r.metric_id, widthIndexOf(r.width), r.bucket_ms).addRow(r);
      await writeCompacted(t, rows);
      result.partial += partial.length;
      result.rows += rows.size;
      return partial.length;
    });
    if (taken < (opts.batch ?? 20_000)) break;
  }
  return result;
}

interface SourceRow {
  kind: 'm' | 'h';
  metric_id: number;
  ordinal: number;
  bucket_ms: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  last_ms: number;
  sketch: Sketch;
}

/**
 * Rebuilds the metric rows of the given hours (1 minute to 1 hour) from the per-series
 * rollups, then the 1-day rows of their days from the 1-hour rows. Used by backfill (after it
 * recomputed rollup_1m) and by the upgrade that introduced metric rollups. The caller's
 * transaction must hold the exclusive locks of those hours (or run before any flush).
 */
export async function rebuildMetricRollups(
  t: Queryable,
  hours: number[],
  opts: { metricId?: number | null; log?: Logger } = {},
): Promise<{ hours: number; days: number; rows: number }> {
  const metricId = opts.metricId ?? null;
  await t.one(sql.metricRollupLock, [true]);
  let written = 0;
  const days = new Set<number>();
  let done = 0;
  let lastLog = Date.now();
  for (const hour of [...hours].sort((a, b) => a - b)) {
    await t.none(sql.metricRollupHourDelete, [new Date(hour), metricId]);
    const source = await t.manyOrNone<SourceRow>(sql.metricRollupRebuildSource, [
      new Date(hour),
      metricId,
    ]);
    const rows = new RowSet();
    const fromHourRows = source.some((r) => r.kind === 'h');
    for (const r of source) {
      const widths = r.kind === 'h' ? [1] : fromHourRows ? [2, 3] : [1, 2, 3];
      for (const w of widths) {
        const acc = rows.at(r.metric_id, w, floorTo(r.bucket_ms, WIDTHS_MS[w] as number));
        acc.addStats(r.count, r.sum, r.min, r.max, r.last, r.last_ms);
        acc.series.add(r.ordinal);
        acc.sketch.mergeJson(r.sketch);
      }
    }
    await writeCompacted(t, rows);
    written += rows.size;
    days.add(floorTo(hour, DAY));
    done += 1;
    if (opts.log && Date.now() - lastLog > 5_000) {
      lastLog = Date.now();
      opts.log.info({ done, hours: hours.length }, 'building metric rollups');
    }
  }
  for (const day of [...days].sort((a, b) => a - b)) {
    const hourRows = await t.manyOrNone<StoredRow>(sql.metricRollupDayTake, [
      new Date(day),
      metricId,
    ]);
    const rows = new RowSet();
    for (const r of hourRows) rows.at(r.metric_id, 0, day).addRow(r);
    await writeCompacted(t, rows);
    written += rows.size;
  }
  return { hours: hours.length, days: days.size, rows: written };
}

/** The upgrade step of migration 008: metric rollups for everything stored before it. */
/**
 * Migration 009's data step. An installation coming from 007 or older has no metric-level rows
 * yet: they are built from the stored rollups (with their quantiles). One already on 008 has
 * rows without quantiles: those are computed from the stored sketches, in batches.
 */
export async function completeMetricRollups(t: Queryable, log: Logger): Promise<void> {
  const { rows } = await t.one<{ rows: number }>(sql.metricRollupCount);
  if (rows === 0) {
    await buildMetricRollupsForStoredData(t, log);
    return;
  }
  const BATCH = 5_000;
  let after: { metric_id: number; width: number; bucket: Date } = {
    metric_id: -1,
    width: -1,
    bucket: new Date(0),
  };
  let filled = 0;
  for (;;) {
    const batch = await t.manyOrNone<{
      metric_id: number;
      width: number;
      bucket: Date;
      min: number;
      max: number;
      sketch: Buffer;
    }>(sql.metricRollupQuantilesMissing, [after.metric_id, after.width, after.bucket, BATCH]);
    if (batch.length === 0) break;
    const q = STORED_QUANTILES.map(() => [] as number[]);
    for (const r of batch) {
      const values = new EncodedSketch(r.sketch).quantiles(STORED_QUANTILES, r);
      values.forEach((v, i) => q[i]?.push(v));
    }
    await t.none(sql.metricRollupQuantilesSet, [
      batch.map((r) => r.metric_id),
      batch.map((r) => r.width),
      batch.map((r) => r.bucket),
      ...q,
    ]);
    filled += batch.length;
    after = batch[batch.length - 1] as (typeof batch)[number];
    if (batch.length < BATCH) break;
  }
  if (filled > 0) log.info({ rows: filled }, 'metric rollup quantiles stored');
}

async function buildMetricRollupsForStoredData(t: Queryable, log: Logger): Promise<void> {
  const hours = (await t.manyOrNone<{ hour_ms: number }>(sql.rollupHoursAll)).map((r) => r.hour_ms);
  if (hours.length === 0) return;
  log.info({ hours: hours.length }, 'building metric rollups from the stored rollups');
  const r = await rebuildMetricRollups(t, hours, { log });
  log.info(r, 'metric rollups built');
}
