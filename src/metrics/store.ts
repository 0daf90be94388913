// Writes decoded buffer entries to PostgreSQL: series first, then points by binary COPY, all in
// one transaction. It never reports a point as stored before that transaction has committed.
import { copyTransaction, type Db } from '../infra/db.js';
import { UNIQUE_VIOLATION } from '../infra/pg-errors.js';
import type { DecodedEntry, EntrySeries } from './buffer.js';
import { binaryCopyChunks, copyIn, type Rows } from './copy-binary.js';
import { metricRollupCopy, type SeriesMeta } from './metric-rollup-rows.js';
import { withoutPacked } from './packing.js';
import { sql, text } from './queries.js';
import {
  aggregateMinutes,
  minuteRollupCopy,
  minuteSketchJson,
  type MinuteRollups,
} from './rollup.js';
import { HOUR } from '../infra/time.js';

export interface WriteResult {
  /** Points in the batch. */
  points: number;
  /** Rows really inserted (the rest were already stored). */
  inserted: number;
  /** True when the batch met a duplicate and took the ON CONFLICT path. */
  slowPath: boolean;
  /** Per-minute aggregates of exactly the rows inserted (what rollup_1m got); none if none. */
  minutes?: MinuteRollups;
}

// Bounds the in-process series id cache (~155 bytes a series); past it the cache starts over (a
// lookup, not a loss). The worker passes MAX_SERIES: no more series can be active at once.
const SERIES_CACHE_MAX = 500_000;

const COPY_POINTS = text(sql.pointsCopy);
const COPY_STAGING = text(sql.pointsStagingCopy);
const COPY_METRIC_PARTIAL = text(sql.metricRollupPartialCopy);
const COPY_ROLLUP_1M = text(sql.rollup1mCopy);

type Queryable = Pick<Db, 'none' | 'manyOrNone'>;

export interface StoredSeries {
  id: number;
  fingerprint: string;
  metric_id: number;
  ordinal: number;
}

export class PointStore {
  private readonly seriesIds = new Map<string, number>();
  private readonly seriesMeta = new Map<number, SeriesMeta>();

  constructor(
    private readonly db: Db,
    private readonly seriesCacheMax = SERIES_CACHE_MAX,
  ) {}

  /** Stores the entries' points in one transaction; duplicates of stored points are skipped. */
  async write(entries: DecodedEntry[]): Promise<WriteResult> {
    const total = entries.reduce((n, e) => n + e.ts.length, 0);
    if (total === 0) return { points: 0, inserted: 0, slowPath: false };
    const meta = new Map<number, SeriesMeta>();
    const { ids, result } = await copyTransaction(this.db, async (sco, client) => {
      const ids = await this.resolveSeries(sco, entries, meta);
      const batch = toRows(entries, ids, total);
      await sco.one(sql.rollupHoursLockShared, [hoursOf(batch.ts)]);
      // Points of packed days that a packed row holds are skipped here (the primary key skips
      // the others); the rest of a packed day's points are stored unpacked and packed later.
      const { rows } = await withoutPacked(sco, batch);
      let inserted = rows.ts.length;
      let slowPath = false;
      let stored: Rows = rows;
      await sco.none('SAVEPOINT fast_path');
      try {
        if (inserted > 0) await copyIn(client, COPY_POINTS, binaryCopyChunks(rows));
      } catch (err) {
        if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
        slowPath = true;
        await sco.none('ROLLBACK TO SAVEPOINT fast_path');
        await sco.none(sql.pointsStagingCreate);
        await copyIn(client, COPY_STAGING, binaryCopyChunks(rows));
        const fresh = await sco.manyOrNone<{ series_id: number; ts_ms: number; value: number }>(
          sql.pointsInsertFromStagingReturning,
        );
        inserted = fresh.length;
        stored = {
          seriesId: fresh.map((r) => r.series_id),
          ts: fresh.map((r) => r.ts_ms),
          value: fresh.map((r) => r.value),
        };
      }
      // The rollups count exactly the rows this transaction inserted: a re-delivered point
      // was skipped above and changes nothing here.
      if (inserted === 0) return { ids, result: { points: total, inserted, slowPath } };
      const minutes = aggregateMinutes(stored);
      await copyIn(client, COPY_ROLLUP_1M, minuteRollupCopy(minutes));
      await sco.none(sql.rollupDirtyMark, [minutes.hours]);
      const metricRows = metricRollupCopy(minutes, (id) => meta.get(id) as SeriesMeta);
      if (metricRows.length > 0) await copyIn(client, COPY_METRIC_PARTIAL, metricRows);
      return { ids, result: { points: total, inserted, slowPath, minutes } };
    });
    // Only now are new series ids real: a rolled-back insert must not be cached.
    if (this.seriesIds.size + ids.size > this.seriesCacheMax) {
      this.seriesIds.clear();
      this.seriesMeta.clear();
    }
    for (const [fp, id] of ids) this.seriesIds.set(fp, id);
    for (const [id, m] of meta) this.seriesMeta.set(id, m);
    return result;
  }

  /**
   * Series id per fingerprint for every series the entries name, and each one's metric id and
   * ordinal in `meta`; inserts the series that do not exist yet (only those take the metric
   * locks that numbering needs).
   */
  private async resolveSeries(
    t: Queryable,
    entries: DecodedEntry[],
    meta: Map<number, SeriesMeta>,
  ): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    const missing = new Map<string, EntrySeries>();
    for (const e of entries) {
      for (const s of e.series) {
        if (ids.has(s.fingerprint) || missing.has(s.fingerprint)) continue;
        const id = this.seriesIds.get(s.fingerprint);
        if (id === undefined) missing.set(s.fingerprint, s);
        else {
          ids.set(s.fingerprint, id);
          meta.set(id, this.seriesMeta.get(id) as SeriesMeta);
        }
      }
    }
    if (missing.size === 0) return ids;
    for (const [fp, r] of await storeSeries(t, [...missing.values()])) {
      ids.set(fp, r.id);
      meta.set(r.id, { metricId: r.metric_id, ordinal: r.ordinal });
    }
    return ids;
  }
}

/**
 * The stored row of every series in `list`, by fingerprint: looks them up and inserts those
 * that do not exist yet (only those take the metric locks that numbering needs).
 */
export async function storeSeries(
  t: Queryable,
  list: readonly EntrySeries[],
): Promise<Map<string, StoredSeries>> {
  const rows = new Map<string, StoredSeries>();
  const lookup = async (fingerprints: string[]) => {
    for (const r of await t.manyOrNone<StoredSeries>(sql.seriesIds, [fingerprints]))
      rows.set(r.fingerprint, r);
  };
  await lookup(list.map((s) => s.fingerprint));
  const missing = list.filter((s) => !rows.has(s.fingerprint));
  if (missing.length === 0) return rows;
  await t.manyOrNone(sql.seriesInsert, [
    missing.map((s) => s.fingerprint),
    missing.map((s) => s.metricName),
    missing.map((s) => s.sourceAgentId),
    missing.map((s) => s.instanceId),
    missing.map((s) => s.tagsJson),
  ]);
  await lookup(missing.map((s) => s.fingerprint));
  const lost = list.filter((s) => !rows.has(s.fingerprint)).length;
  if (lost > 0) throw new Error(`series lookup found no id for ${lost} of ${list.length} series`);
  return rows;
}

/** Which of `fingerprints` are stored series: what a series limit asks before it refuses. */
export function storedSeries(db: Pick<Db, 'manyOrNone'>) {
  return async (fingerprints: string[]): Promise<Set<string>> => {
    const rows = await db.manyOrNone<{ fingerprint: string }>(sql.seriesKnown, [fingerprints]);
    return new Set(rows.map((r) => r.fingerprint));
  };
}

/** The batch as three typed arrays, series resolved to ids once per entry, not per point. */
function toRows(entries: DecodedEntry[], ids: Map<string, number>, total: number): Rows {
  if (entries.length === 1) {
    const e = entries[0] as DecodedEntry;
    return { seriesId: seriesIds(e, ids, new Float64Array(total), 0), ts: e.ts, value: e.value };
  }
  const rows = {
    seriesId: new Float64Array(total),
    ts: new Float64Array(total),
    value: new Float64Array(total),
  };
  let k = 0;
  for (const e of entries) {
    seriesIds(e, ids, rows.seriesId, k);
    rows.ts.set(e.ts, k);
    rows.value.set(e.value, k);
    k += e.ts.length;
  }
  return rows;
}

function seriesIds(
  e: DecodedEntry,
  ids: Map<string, number>,
  into: Float64Array,
  at: number,
): Float64Array {
  const local = e.series.map((s) => ids.get(s.fingerprint) as number);
  for (let i = 0; i < e.seriesIndex.length; i++)
    into[at + i] = local[e.seriesIndex[i] as number] as number;
  return into;
}

/** The distinct epoch-hour numbers of a batch, ascending (the order locks are taken in). */
export function hoursOf(ts: ArrayLike<number>): number[] {
  const hours = new Set<number>();
  for (let i = 0; i < ts.length; i++) hours.add(Math.floor((ts[i] as number) / HOUR));
  return [...hours].sort((a, b) => a - b);
}

/**
 * Doubles as the text PostgreSQL reads back to the same double, -0 included (a number in a
 * query's text would lose its sign, and the flush's binary COPY keeps it).
 */
const exactFloats = (xs: ArrayLike<number>) =>
  Array.from(xs, (v) => (Object.is(v, -0) ? '-0' : String(v)));

/** Appends `m` to rollup_1m and marks its hours dirty, with parameters (backfill's way). */
export async function updateRollups(t: Queryable, m: MinuteRollups): Promise<void> {
  const dates = (ms: Float64Array) => Array.from(ms, (x) => new Date(x));
  await t.none(sql.rollup1mAppend, [
    Array.from(m.seriesIds),
    dates(m.buckets),
    Array.from(m.counts),
    exactFloats(m.sums),
    exactFloats(m.mins),
    exactFloats(m.maxes),
    exactFloats(m.lasts),
    dates(m.lastTimes),
    Array.from({ length: m.length }, (_, r) => minuteSketchJson(m, r)),
  ]);
  await t.none(sql.rollupDirtyMark, [m.hours]);
}
