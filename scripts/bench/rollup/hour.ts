// Stage 3 of the rollup benchmark: the aggregate job building rollup_1h for a week of rollup_1m
// rows (made by SQL, with DDSketch-shaped sketches), every hour marked dirty.
import { performance } from 'node:perf_hooks';
import { DAY, HOUR } from '../../../src/infra/time.js';
import { aggregate } from '../../../src/jobs/aggregate.js';
import { add, type Sketch } from '../../../src/metrics/sketch.js';
import { type Cores, cpuCores } from '../cpu.js';
import { prng } from '../data.js';
import { every, progress } from '../env.js';
import { fixed, int } from '../report.js';
import { alignDown, countRows, type Ctx, emptyTables, seconds, snapshot } from './context.js';
import { normal } from './series.js';

/** Week fill: sketch families (one per series modulo) × variants (per minute). */
const SKETCH_FAMILIES = 64;
const SKETCH_VARIANTS = 64;

export interface HourFigures {
  days: number;
  rollup1mRows: number;
  hours: number;
  rollup1hRows: number;
  fillMs: number;
  vacuumMs: number;
  ms: number;
  rowsPerSec: number;
  cpu: Cores;
  keysPerMinuteSketch: number;
  keysPerHourSketch: number;
  rollup1mMb: number;
}

/**
 * Minute sketches as a flush builds them (60 values through sketch.add): SKETCH_FAMILIES value
 * levels × SKETCH_VARIANTS spreads, 3–8 keys each. A series keeps to one family, so its hour
 * merges overlapping keys as a real series' does.
 */
function sketchTemplates(seed: number) {
  const rand = prng(seed);
  const t = {
    id: [] as number[],
    sum: [] as number[],
    min: [] as number[],
    max: [] as number[],
    last: [] as number[],
    sketch: [] as string[],
    keys: [] as number[],
  };
  for (let f = 0; f < SKETCH_FAMILIES; f++) {
    const level = 10 ** (-1 + (6 * f) / SKETCH_FAMILIES);
    for (let v = 0; v < SKETCH_VARIANTS; v++) {
      // Relative spread 0.8 %–2.5 % gives 3 to 8 keys of 1 % buckets for 60 values; the few
      // draws outside that are drawn again.
      const spread = 0.008 + (0.017 * (v % 16)) / 15;
      const centre = level * (1 + 0.05 * normal(rand));
      let sketch: Sketch = {};
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      let last = 0;
      for (let attempt = 0; attempt < 100; attempt++) {
        sketch = {};
        sum = 0;
        min = Infinity;
        max = -Infinity;
        for (let i = 0; i < 60; i++) {
          const x = centre * (1 + spread * normal(rand));
          add(sketch, x);
          sum += x;
          min = Math.min(min, x);
          max = Math.max(max, x);
          last = x;
        }
        const keys = Object.keys(sketch).length;
        if (keys >= 3 && keys <= 8) break;
      }
      t.id.push(f * SKETCH_VARIANTS + v);
      t.sum.push(sum);
      t.min.push(min);
      t.max.push(max);
      t.last.push(last);
      t.sketch.push(JSON.stringify(sketch));
      t.keys.push(Object.keys(sketch).length);
    }
  }
  return t;
}

type Templates = ReturnType<typeof sketchTemplates>;

const FILL_SQL = `
    WITH t AS (
      SELECT * FROM unnest($1::int[], $2::float8[], $3::float8[], $4::float8[], $5::float8[],
                           $6::jsonb[]) AS t(id, sum, min, max, last, sketch)
    ), s AS (
      SELECT id, ord::int AS ord FROM unnest($7::bigint[]) WITH ORDINALITY AS s(id, ord)
    )
    INSERT INTO rollup_1m (series_id, bucket, count, sum, min, max, last, last_ts, sketch)
    SELECT s.id, $8::timestamptz + m * interval '1 minute', 60, t.sum, t.min, t.max, t.last,
           $8::timestamptz + m * interval '1 minute' + interval '59 seconds', t.sketch
    FROM generate_series($9::int, $10::int) AS m
    CROSS JOIN s
    JOIN t ON t.id = (s.ord % ${SKETCH_FAMILIES}) * ${SKETCH_VARIANTS} + (m * 37 + s.ord) % ${SKETCH_VARIANTS}`;

/** Generates the rollup_1m rows from `start`: a day per statement, two statements at a time (two cores). */
async function fillWeek(ctx: Ctx, templates: Templates, start: number): Promise<number> {
  const { db } = ctx;
  const days = ctx.opts.days;
  const filled = performance.now();
  let nextDay = 0;
  let doneDays = 0;
  const worker = async () => {
    for (;;) {
      const d = nextDay++;
      if (d >= days) return;
      await db.none(FILL_SQL, [
        templates.id,
        templates.sum,
        templates.min,
        templates.max,
        templates.last,
        templates.sketch,
        ctx.ids,
        new Date(start),
        d * 1_440,
        d * 1_440 + 1_439,
      ]);
      doneDays += 1;
      progress(
        `hour: ${doneDays} / ${days} days of rollup_1m rows generated (${fixed((performance.now() - filled) / 1_000, 1)} s)`,
      );
    }
  };
  await Promise.all([worker(), worker()]);
  return performance.now() - filled;
}

/** aggregate() until no hour is left, timed. */
async function buildHours(
  ctx: Ctx,
  days: number,
): Promise<{ hours: number; rows: number; ms: number; cpu: Cores }> {
  const { db } = ctx;
  await db.none('CHECKPOINT');
  const cpu0 = snapshot(ctx);
  const started = performance.now();
  let hours = 0;
  let rows = 0;
  const stopProgress = every(
    5_000,
    async () => {
      const left = await countRows(db, 'rollup_dirty_hours');
      progress(`hour: ${days * 24 - left} / ${days * 24} hours taken`);
    },
    'progress',
  );
  try {
    // aggregate() works for at most a minute per call (an hour per transaction); call until done.
    for (;;) {
      const r = await aggregate({ db, log: ctx.log }, { reason: 'manual' });
      hours += r.hours;
      rows += r.rows;
      if (r.hours === 0) break;
    }
  } finally {
    await stopProgress();
  }
  const ms = performance.now() - started;
  const cpu = cpuCores(cpu0, snapshot(ctx), ms);
  return { hours, rows, ms, cpu };
}

export async function stageHour(ctx: Ctx): Promise<HourFigures> {
  const { db, opts } = ctx;
  const days = opts.days;
  await emptyTables(db);
  const templates = sketchTemplates(opts.seed + 3);
  const keysPerMinuteSketch = templates.keys.reduce((a, b) => a + b, 0) / templates.keys.length;
  // A week of closed hours ending an hour ago: every hour is one the aggregate job may build.
  const end = alignDown(Date.now(), HOUR) - HOUR;
  const start = end - days * DAY;
  const total = days * 1_440 * ctx.specs.length;
  progress(
    `hour: generating ${int(total)} rollup_1m rows (${days} d × 1,440 min × ${int(ctx.specs.length)} series; sketches of ${fixed(keysPerMinuteSketch, 1)} keys on average), untimed`,
  );
  const fillMs = await fillWeek(ctx, templates, start);
  // A week-old table has been vacuumed (visibility map, hint bits) and analysed.
  const vacuumed = performance.now();
  await db.none('VACUUM (ANALYZE) rollup_1m');
  const vacuumMs = performance.now() - vacuumed;
  const rollup1mRows = await countRows(db, 'rollup_1m');
  if (rollup1mRows !== total) throw new Error(`rollup_1m holds ${rollup1mRows}, not ${total}`);
  const rollup1mMb =
    (await db.one<{ b: number }>("SELECT pg_total_relation_size('rollup_1m')::bigint AS b")).b /
    1_048_576;
  await db.none(
    `INSERT INTO rollup_dirty_hours (bucket)
     SELECT generate_series($1::timestamptz, $2::timestamptz, interval '1 hour')`,
    [new Date(start), new Date(end - HOUR)],
  );
  progress(
    `hour: ${int(rollup1mRows)} rows (${int(rollup1mMb)} MB) in ${fixed(fillMs / 1_000, 1)} s, vacuumed in ${fixed(vacuumMs / 1_000, 1)} s; ${days * 24} hours dirty; running aggregate()`,
  );
  const { hours, rows, ms, cpu } = await buildHours(ctx, days);
  if (hours !== days * 24 || rows !== days * 24 * ctx.specs.length)
    throw new Error(`aggregate built ${hours} hours, ${rows} rows`);
  const check = await db.one<{ m: number; h: number; keys: number }>(
    `SELECT (SELECT sum(count) FROM rollup_1m)::bigint AS m, (SELECT sum(count) FROM rollup_1h)::bigint AS h,
            (SELECT avg((SELECT count(*) FROM jsonb_object_keys(sketch))) FROM rollup_1h)::float8 AS keys`,
  );
  if (check.m !== check.h)
    throw new Error(`rollup_1h counts ${check.h} points, rollup_1m ${check.m}`);
  await emptyTables(db);
  progress(`hour: ${hours} hours, ${int(rows)} rollup_1h rows in ${seconds(ms)} s`);
  return {
    days,
    rollup1mRows,
    hours,
    rollup1hRows: rows,
    fillMs,
    vacuumMs,
    ms,
    rowsPerSec: (rollup1mRows * 1_000) / ms,
    cpu,
    keysPerMinuteSketch,
    keysPerHourSketch: check.keys,
    rollup1mMb,
  };
}
