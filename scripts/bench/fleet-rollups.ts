// The fleet's rollups, once its points are stored: rollup_1m by SQL (its sketch keys checked
// against keyOf), rollup_1h by the aggregate job, metric rollups by the upgrade's rebuild.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { pino } from 'pino';
import type { Db } from '../../src/infra/db.js';
import { aggregate } from '../../src/jobs/aggregate.js';
import { rebuildMetricRollups } from '../../src/metrics/metric-rollup-upkeep.js';
import { sql } from '../../src/metrics/queries.js';
import { keyOf, type Sketch } from '../../src/metrics/sketch.js';
import { progress } from './env.js';
import { int } from './report.js';
import { MINUTE, HOUR } from '../../src/infra/time.js';

// rollup_1m from the raw rows of [$1, $2): count, sum, min, max, last and a DDSketch whose keys
// are computed as src/metrics/sketch.ts keyOf computes them (gamma = 1.01 / 0.99 in doubles).
const ROLLUP_1M_FILL_SQL = `INSERT INTO rollup_1m (series_id, bucket, count, sum, min, max, last, last_ts, sketch)
WITH keyed AS (
  SELECT series_id, date_trunc('minute', ts, 'UTC') AS bucket, ts, value,
         CASE WHEN value > 1e-300 THEN 'p' || ceil(ln(value) / ln(1.01::float8 / 0.99::float8))::bigint
              WHEN value < -1e-300 THEN 'n' || ceil(ln(-value) / ln(1.01::float8 / 0.99::float8))::bigint
              ELSE 'z' END AS key
  FROM points
  WHERE ts >= $1::timestamptz AND ts < $2::timestamptz
), agg AS (
  SELECT series_id, bucket, count(*) AS count, sum(value) AS sum, min(value) AS min,
         max(value) AS max, (array_agg(value ORDER BY ts DESC))[1] AS last, max(ts) AS last_ts
  FROM keyed
  GROUP BY series_id, bucket
), sk AS (
  SELECT series_id, bucket, jsonb_object_agg(key, n) AS sketch
  FROM (SELECT series_id, bucket, key, count(*) AS n FROM keyed GROUP BY 1, 2, 3) AS per_key
  GROUP BY series_id, bucket
)
SELECT agg.series_id, agg.bucket, agg.count, agg.sum, agg.min, agg.max, agg.last, agg.last_ts,
       sk.sketch
FROM agg JOIN sk USING (series_id, bucket)`;

/** Minutes [from, from + minutes) of the fill: a day, or what is left of the last one. */
export interface FillBlock {
  from: number;
  minutes: number;
}

/** A stage's time and the rows it wrote. */
export interface Filled {
  ms: number;
  rows: number;
}

/** Runs `jobs` on `workers` parallel lanes, each taking the next job when it is done. */
export async function lanes<T>(
  jobs: T[],
  workers: number,
  run: (job: T, lane: number) => Promise<void>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, lane) => {
      for (;;) {
        const i = next++;
        if (i >= jobs.length) return;
        await run(jobs[i] as T, lane);
      }
    }),
  );
}

/** rollup_1m: one INSERT … SELECT … GROUP BY per block, 2 blocks at a time, one per client. */
export async function fillRollup1m(
  clients: pg.Client[],
  blocks: FillBlock[],
  points: number,
): Promise<Filled> {
  const started = performance.now();
  let rows = 0;
  await lanes(blocks, 2, async (b, lane) => {
    const r = await (clients[lane] as pg.Client).query(ROLLUP_1M_FILL_SQL, [
      new Date(b.from * MINUTE),
      new Date((b.from + b.minutes) * MINUTE),
    ]);
    rows += r.rowCount ?? 0;
    progress(`fill: rollup_1m ${int(rows)} rows`);
  });
  const ms = performance.now() - started;
  if (rows !== points)
    throw new Error(`rollup_1m got ${rows} rows, expected ${points} (one per point)`);
  return { ms, rows };
}

/** The sketch keys made in SQL must be the ones keyOf makes: checks a sample, returns its size. */
export async function checkSketches(db: Db): Promise<number> {
  const sample = await db.many<{ value: number; sketch: Sketch }>(
    'SELECT last AS value, sketch FROM rollup_1m TABLESAMPLE SYSTEM (1) LIMIT 2000',
  );
  for (const r of sample) {
    const keys = Object.keys(r.sketch);
    if (keys.length !== 1 || keys[0] !== keyOf(r.value) || r.sketch[keyOf(r.value)] !== 1)
      throw new Error(
        `rollup_1m sketch ${JSON.stringify(r.sketch)} for value ${r.value}; keyOf gives ${keyOf(r.value)}`,
      );
  }
  return sample.length;
}

/** The hours that hold minutes [fromMinute, toMinute). */
export function fillHours(fromMinute: number, toMinute: number): Date[] {
  const hours: Date[] = [];
  for (let h = Math.floor((fromMinute * MINUTE) / HOUR); h * HOUR < toMinute * MINUTE; h++)
    hours.push(new Date(h * HOUR));
  return hours;
}

/** rollup_1h: every hour marked dirty (as the flushes would), then the real aggregate job. */
export async function fillRollup1h(db: Db, hours: Date[]): Promise<Filled> {
  const started = performance.now();
  await db.none(sql.rollupDirtyMark, [hours]);
  const quiet = pino({ level: 'warn' }, pino.destination(2));
  let rows = 0;
  for (;;) {
    const r = await aggregate({ db, log: quiet }, { reason: 'manual' });
    rows += r.rows;
    if (r.hours === 0) break;
    progress(`fill: rollup_1h ${int(rows)} rows`);
  }
  return { ms: performance.now() - started, rows };
}

/**
 * Metric-level rollups (1m/5m/1h/1d, all series of a metric merged), built from the
 * per-series rollups by the same code an upgrading installation runs; one day per transaction.
 */
export async function fillMetricRollups(db: Db, hours: Date[]): Promise<Filled> {
  progress('fill: metric rollups from the per-series rollups');
  const started = performance.now();
  let rows = 0;
  for (let d = 0; d < hours.length; d += 24) {
    const dayHours = hours.slice(d, d + 24).map((h) => h.getTime());
    const r = await db.tx((t) => rebuildMetricRollups(t, dayHours));
    rows += r.rows;
    progress(`fill: metric rollups ${int(rows)} rows`);
  }
  return { ms: performance.now() - started, rows };
}
