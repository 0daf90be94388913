// Closed days of raw points, packed (sql/migrations/013_packed_points.sql): one row per
// timestamp holding the values of every series with a point at that instant. The maintenance
// job packs each day once it is COMPRESS_AFTER old; a flush that brings a late point to a
// packed day skips what a packed row already holds, stores the rest unpacked, and the next
// maintenance run merges it in. Readers go through points_all and see both alike.
import { cancellableTx, throwIfAborted } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import { LOCK_NOT_AVAILABLE } from '../infra/pg-errors.js';
import { DAY, HOUR } from '../infra/time.js';
import type { Rows } from './copy-binary.js';
import { sql } from './queries.js';

type Queryable = Pick<Db, 'manyOrNone'>;

/** How long packing waits for a lock before it leaves the day to the next run. */
const PACK_LOCK_TIMEOUT = '2s';

export interface PackedDay {
  day: string;
  /** Points this run packed (new to packed storage). */
  points: number;
  /** Packed rows written (one per timestamp and series set). */
  rows: number;
  /** Size of the day's partition before it was dropped, with its index. */
  rawBytes: number;
}

export interface PackResult {
  packed: PackedDay[];
  /** Days left for the next run: a reader or writer held a lock past PACK_LOCK_TIMEOUT. */
  skipped: string[];
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The hours of a UTC day as hour numbers since the epoch, ascending (the lock order). */
function hoursOfDay(day: string): number[] {
  const first = Date.parse(`${day}T00:00:00Z`) / HOUR;
  return Array.from({ length: DAY / HOUR }, (_, i) => first + i);
}

/**
 * Packs every day whose whole day ends at or before `cutoff` and that still has unpacked points
 * (or an empty partition made ahead), each in its own transaction holding the day's hours, so
 * no flush writes the day meanwhile. A day whose locks are not had in PACK_LOCK_TIMEOUT is left
 * for the next run; aborting stops between days (a day is packed whole or not at all).
 */
export async function packDays(db: Db, cutoff: Date, signal?: AbortSignal): Promise<PackResult> {
  const days = await db.manyOrNone<{ day: string }>(sql.pointsDaysToPack, [cutoff]);
  const result: PackResult = { packed: [], skipped: [] };
  for (const { day } of days) {
    throwIfAborted(signal);
    try {
      result.packed.push(
        await cancellableTx(db, signal, 'pack points day', async (t) => {
          await t.one("SELECT set_config('lock_timeout', $1, true)", [PACK_LOCK_TIMEOUT]);
          await t.one(sql.rollupHoursLock, [hoursOfDay(day)]);
          const r = await t.one<{ points: number; packed_rows: number; raw_bytes: number }>(
            sql.pointsPackDay,
            [day],
          );
          return {
            day,
            points: r.points,
            rows: r.packed_rows,
            rawBytes: r.raw_bytes,
          };
        }),
      );
    } catch (err) {
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
      result.skipped.push(day);
    }
  }
  return result;
}

/** The UTC days (epoch ms of their start) among `ts` that are packed. */
async function packedDaysOf(t: Queryable, ts: ArrayLike<number>): Promise<Set<number>> {
  const days = new Set<number>();
  for (let i = 0; i < ts.length; i++) days.add(Math.floor((ts[i] as number) / DAY) * DAY);
  const rows = await t.manyOrNone<{ day_ms: number }>(sql.pointsPackedDaysOf, [
    [...days].map(utcDay),
  ]);
  return new Set(rows.map((r) => r.day_ms));
}

/**
 * The rows without those a packed row already holds, and how many those were. Costs one small
 * query when no point of the batch is on a packed day (the usual case); otherwise one more,
 * reading only the packed rows at the batch's timestamps. The caller holds the batch's hours
 * (shared), so no day becomes packed between this check and the batch's commit.
 */
export async function withoutPacked(
  t: Queryable,
  rows: Rows,
): Promise<{ rows: Rows; skipped: number }> {
  const packed = await packedDaysOf(t, rows.ts);
  if (packed.size === 0) return { rows, skipped: 0 };
  const ids: number[] = [];
  const times: number[] = [];
  for (let i = 0; i < rows.ts.length; i++) {
    const ts = rows.ts[i] as number;
    if (!packed.has(Math.floor(ts / DAY) * DAY)) continue;
    ids.push(rows.seriesId[i] as number);
    times.push(ts);
  }
  const held = await t.manyOrNone<{ series_id: number; ts_ms: number }>(sql.pointsPackedHeld, [
    ids,
    times,
  ]);
  if (held.length === 0) return { rows, skipped: 0 };
  const known = new Set(held.map((h) => `${h.series_id}:${h.ts_ms}`));
  const keep: number[] = [];
  for (let i = 0; i < rows.ts.length; i++)
    if (!known.has(`${rows.seriesId[i] as number}:${rows.ts[i] as number}`)) keep.push(i);
  const pick = (from: ArrayLike<number>) => Float64Array.from(keep, (i) => from[i] as number);
  return {
    rows: { seriesId: pick(rows.seriesId), ts: pick(rows.ts), value: pick(rows.value) },
    skipped: rows.ts.length - keep.length,
  };
}
