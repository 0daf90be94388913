// One sampling mode of the storage benchmark: a week of the fleet written raw, the bytes a raw
// point takes, 24 h scans through the plan's view, then the real packing (packDays, as the
// maintenance job runs it), the bytes a packed point takes and the same scans again, with their
// answers compared.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Db } from '../../../src/infra/db.js';
import { DAY, HOUR, MINUTE } from '../../../src/infra/time.js';
import { packDays } from '../../../src/metrics/packing.js';
import { sql } from '../../../src/metrics/queries.js';
import { progress } from '../env.js';
import type { SeriesSpec } from '../fleet.js';
import { fixed, int } from '../report.js';
import { fillPoints, type Mode } from './fill.js';

/** The scans timed before and after packing, over the same 24 h window. */
export const SCANS = {
  view: `SELECT count(*)::int AS n, sum(metric_value) AS sum FROM performance_metrics_ts
         WHERE "timestamp" >= $1 AND "timestamp" < $2`,
  plan: `SELECT metric_name, avg(metric_value) AS avg, max(metric_value) AS max,
                min(metric_value) AS min,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY metric_value) AS p95
         FROM performance_metrics_ts WHERE "timestamp" >= $1 AND "timestamp" < $2
         GROUP BY metric_name`,
  series: `SELECT count(*)::int AS n, sum(value) AS sum FROM points_all
           WHERE series_id = $3 AND ts >= $1 AND ts < $2`,
} as const;
export type Scan = keyof typeof SCANS;

// What must not change: counted exactly, and every value compared.
const ANSWER = `SELECT s.metric_name, count(*)::int AS n, sum(p.value::numeric)::text AS sum,
                       min(p.value) AS min, max(p.value) AS max,
                       percentile_disc(0.95) WITHIN GROUP (ORDER BY p.value) AS p95
                FROM points_all p JOIN series s ON s.id = p.series_id
                WHERE p.ts >= $1 AND p.ts < $2 GROUP BY 1 ORDER BY 1`;

export interface ModeFigures {
  mode: Mode;
  points: number;
  fillMs: number;
  /** Points and bytes of the days packed (partition with its index, before it was dropped). */
  packedPoints: number;
  rawBytes: number;
  /** Packed partitions with their TOAST and BRIN index, and the series sets. */
  packedBytes: number;
  packedRows: number;
  sets: number;
  packMs: number;
  daysPacked: number;
  windowPoints: number;
  /** Median ms of each scan over a whole raw day and over a whole packed day, run in turns. */
  before: Record<Scan, number>;
  after: Record<Scan, number>;
  /** The exact answers over the window equal before and after packing. */
  sameAnswers: boolean;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/**
 * Each scan over a raw day and over a packed day of the same shape, in turns (raw, packed,
 * raw, packed …) after one untimed run of each, so load from outside falls on both alike.
 */
async function timeScans(
  db: Db,
  raw: unknown[],
  packed: unknown[],
  runs: number,
): Promise<{ raw: Record<Scan, number>; packed: Record<Scan, number> }> {
  const out = { raw: {} as Record<Scan, number>, packed: {} as Record<Scan, number> };
  for (const scan of Object.keys(SCANS) as Scan[]) {
    const ms = { raw: [] as number[], packed: [] as number[] };
    for (let r = 0; r <= runs; r++)
      for (const side of ['raw', 'packed'] as const) {
        const t = performance.now();
        await db.any(SCANS[scan], side === 'raw' ? raw : packed);
        if (r > 0) ms[side].push(performance.now() - t);
      }
    out.raw[scan] = median(ms.raw);
    out.packed[scan] = median(ms.packed);
  }
  return out;
}

/** Drops every points partition, packed or not, and what packing recorded: a clean slate. */
export async function emptyPoints(db: Db): Promise<void> {
  await db.any(sql.pointsPartitionsDrop, [new Date('9999-01-01T00:00:00Z')]);
}

export async function measureMode(
  db: Db,
  clients: pg.Client[],
  specs: SeriesSpec[],
  ids: number[],
  o: { mode: Mode; days: number; metrics: number; seed: number; runs: number; nowMs: number },
): Promise<ModeFigures> {
  await emptyPoints(db);
  const toMinute = Math.floor(o.nowMs / MINUTE);
  const fromMinute = toMinute - o.days * 1_440;
  const day = (m: number) => new Date(m * MINUTE).toISOString().slice(0, 10);
  await db.one(sql.pointsPartitionsEnsure, [day(fromMinute), day(toMinute)]);
  const filled = await fillPoints(clients, specs, ids, { ...o, fromMinute, toMinute });
  progress(`${o.mode}: VACUUM ANALYZE`);
  await db.none('VACUUM (ANALYZE) points');

  // The answers over 24 h from 06:00 four days back (two days that packing takes, with
  // COMPRESS_AFTER 2d), before and after; the scans over yesterday (raw) and the whole day
  // four days back (packed), which hold the same number of points.
  const from = new Date(Math.floor((o.nowMs - 4 * DAY) / DAY) * DAY + 6 * HOUR);
  const window = [from, new Date(from.getTime() + DAY)];
  const dayOf = (back: number) => {
    const start = Math.floor((o.nowMs - back * DAY) / DAY) * DAY;
    return [new Date(start), new Date(start + DAY), ids[0]];
  };
  const answerBefore = await db.many<{ n: number }>(ANSWER, window);

  progress(`${o.mode}: packing the days that end 2 days or more ago`);
  const t = performance.now();
  const pack = await packDays(db, new Date(o.nowMs - 2 * DAY));
  const packMs = performance.now() - t;
  await db.none('VACUUM (ANALYZE) point_sets');
  const sizes = await db.one<{ packed: number; sets: number; set_bytes: number; rows: number }>(
    `SELECT (SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0)::float8 FROM pg_inherits
             WHERE inhparent = 'points_packed'::regclass) AS packed,
            (SELECT count(*)::int FROM point_sets) AS sets,
            pg_total_relation_size('point_sets')::float8 AS set_bytes,
            (SELECT count(*)::int FROM points_packed) AS rows`,
  );
  const packedPoints = pack.packed.reduce((n, d) => n + d.points, 0);
  const rawBytes = pack.packed.reduce((n, d) => n + d.rawBytes, 0);
  progress(
    `${o.mode}: ${int(packedPoints)} points of ${pack.packed.length} days packed in ${fixed(packMs / 1_000, 1)} s; scans of a raw and a packed day in turns`,
  );
  const answerAfter = await db.many(ANSWER, window);
  const scans = await timeScans(db, dayOf(1), dayOf(4), o.runs);
  return {
    mode: o.mode,
    points: filled.points,
    fillMs: filled.ms,
    packedPoints,
    rawBytes,
    packedBytes: sizes.packed + sizes.set_bytes,
    packedRows: sizes.rows,
    sets: sizes.sets,
    packMs,
    daysPacked: pack.packed.length,
    windowPoints: answerBefore.reduce((n, r) => n + r.n, 0),
    before: scans.raw,
    after: scans.packed,
    sameAnswers: JSON.stringify(answerBefore) === JSON.stringify(answerAfter),
  };
}
