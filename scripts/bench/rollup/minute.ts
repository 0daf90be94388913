// Stage 2 of the rollup benchmark: one new minute with a small and a large history stored; the
// ratio says whether the cost follows the new data or the table size.
import { performance } from 'node:perf_hooks';
import type { DecodedEntry } from '../../../src/metrics/buffer.js';
import { ENTRY_POINTS } from '../../../src/metrics/buffer.js';
import { aggregateMinutes } from '../../../src/metrics/rollup.js';
import { HOUR, MINUTE, SECOND } from '../../../src/infra/time.js';
import {
  closeCopyClients,
  copyStreams,
  COPY_ROWS_PER_CHUNK,
  openCopyClients,
} from '../copy-stage.js';
import { type Cores, CPU_GROUPS, cpuCores } from '../cpu.js';
import { copyChunks } from '../data.js';
import { progress } from '../env.js';
import { fixed, int } from '../report.js';
import {
  alignDown,
  countRows,
  type Ctx,
  emptyTables,
  median,
  snapshot,
  timedStore,
} from './context.js';
import { batches, decodedEntries, timeline } from './series.js';

export interface MinuteCase {
  label: 'small' | 'large';
  historyRows: number;
  historyRollupRows: number;
  fillMs: number;
  /** Per timed minute: whole PointStore.write time for the minute, and its parts. */
  minuteMs: number[];
  rollupSqlMs: number[];
  commitMs: number[];
  medianMs: number;
  medianRollupSqlMs: number;
  medianCommitMs: number;
  cpu: Cores;
  timedMs: number;
}

export interface MinuteFigures {
  small: MinuteCase;
  large: MinuteCase;
  ratio: number;
  pointsPerMinute: number;
  writesPerMinute: number;
  /** aggregateMinutes (JS) on one minute's batches, measured apart; median ms. */
  jsAggregateMs: number;
}

interface History {
  rows: number;
  historyRollupRows: number;
  fillMs: number;
}

/** Stores `historyRows` points before t0 by COPY, with their rollup_1m rows (untimed). */
async function storeHistory(
  ctx: Ctx,
  label: 'small' | 'large',
  historyRows: number,
  t0: number,
): Promise<History> {
  const { db, specs } = ctx;
  await emptyTables(db);
  const steps = Math.ceil(historyRows / specs.length);
  const rows = steps * specs.length;
  progress(
    `minute (${label}): storing a history of ${int(rows)} points (${fixed((steps * SECOND) / HOUR, 2)} h × ${int(specs.length)} series, untimed)`,
  );
  const filled = performance.now();
  if (rows > 0) {
    const data = timeline(specs, ctx.opts.seed + 2, t0 - steps * SECOND, SECOND, steps);
    const mid = Math.floor(data.n / 2);
    const clients = await openCopyClients(ctx.dbUrl, ctx.res);
    try {
      await copyStreams(clients, [
        copyChunks(data, ctx.ids, COPY_ROWS_PER_CHUNK, 0, mid),
        copyChunks(data, ctx.ids, COPY_ROWS_PER_CHUNK, mid, data.n),
      ]);
    } finally {
      await closeCopyClients(clients, ctx.res);
    }
    // Their rollup_1m rows, as the flushes that stored them would have left them (the filler's
    // sketches are empty: no new minute meets these rows).
    await db.none(
      `INSERT INTO rollup_1m (series_id, bucket, count, sum, min, max, last, last_ts, sketch)
       SELECT series_id, date_trunc('minute', ts), count(*), sum(value), min(value), max(value),
              (array_agg(value ORDER BY ts DESC))[1], max(ts), '{}'::jsonb
       FROM points GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    // What autovacuum would have done by now; also keeps it from starting during the timing.
    await db.none('VACUUM (ANALYZE) points');
    await db.none('VACUUM (ANALYZE) rollup_1m');
  }
  const historyRollupRows = await countRows(db, 'rollup_1m');
  const fillMs = performance.now() - filled;
  progress(
    `minute (${label}): ${int(rows)} points and ${int(historyRollupRows)} rollup_1m rows stored in ${fixed(fillMs / 1_000, 1)} s`,
  );
  return { rows, historyRollupRows, fillMs };
}

interface TimedMinutes {
  minuteMs: number[];
  rollupSqlMs: number[];
  commitMs: number[];
  cpu: Cores;
  timedMs: number;
}

/** Writes each minute through PointStore.write; the first one warms up, the others are timed. */
async function timeMinutes(
  ctx: Ctx,
  label: 'small' | 'large',
  minutes: DecodedEntry[][][],
): Promise<TimedMinutes> {
  const { db } = ctx;
  const timed = timedStore(db);
  const store = timed.store;
  const minuteMs: number[] = [];
  const rollupSqlMs: number[] = [];
  const commitMs: number[] = [];
  let timedMs = 0;
  let cpuTicks: Cores | undefined;
  for (let m = 0; m < minutes.length; m++) {
    const warmup = m === 0;
    await db.none('CHECKPOINT');
    timed.reset();
    const cpu0 = snapshot(ctx);
    const started = performance.now();
    for (const batch of minutes[m] as DecodedEntry[][]) await store.write(batch);
    const ms = performance.now() - started;
    const cpu = cpuCores(cpu0, snapshot(ctx), ms);
    if (warmup) {
      progress(`minute (${label}): warm-up minute in ${fixed(ms, 0)} ms (untimed)`);
      continue;
    }
    // Cores averaged over the timed minutes, weighted by their time.
    const acc = cpuTicks ?? (Object.fromEntries(CPU_GROUPS.map((g) => [g, 0])) as Cores);
    for (const g of CPU_GROUPS) acc[g] += cpu[g] * ms;
    cpuTicks = acc;
    timedMs += ms;
    minuteMs.push(ms);
    rollupSqlMs.push(timed.times.rollupMs);
    commitMs.push(timed.times.commitMs);
    progress(
      `minute (${label}): minute ${m}/${minutes.length - 1} in ${fixed(ms, 0)} ms (rollup SQL ${fixed(timed.times.rollupMs, 0)} ms)`,
    );
  }
  const cpu = Object.fromEntries(
    CPU_GROUPS.map((g) => [g, Math.round(((cpuTicks?.[g] ?? 0) / timedMs) * 100) / 100]),
  ) as Cores;
  return { minuteMs, rollupSqlMs, commitMs, cpu, timedMs };
}

async function minuteCase(
  ctx: Ctx,
  label: 'small' | 'large',
  historyRows: number,
  t0: number,
  minutes: DecodedEntry[][][],
): Promise<MinuteCase> {
  const { db } = ctx;
  const { rows, historyRollupRows, fillMs } = await storeHistory(ctx, label, historyRows, t0);
  const { minuteMs, rollupSqlMs, commitMs, cpu, timedMs } = await timeMinutes(ctx, label, minutes);
  const points = await countRows(db, 'points');
  const expected = rows + minutes.length * ctx.specs.length * 60;
  if (points !== expected) throw new Error(`points holds ${points} rows, expected ${expected}`);
  const fresh = await db.one<{ n: number }>(
    'SELECT coalesce(sum(count), 0)::bigint AS n FROM rollup_1m WHERE bucket >= $1',
    [new Date(t0)],
  );
  if (fresh.n !== minutes.length * ctx.specs.length * 60)
    throw new Error(`rollup_1m counts ${fresh.n} points in the new minutes`);
  return {
    label,
    historyRows: rows,
    historyRollupRows,
    fillMs,
    minuteMs,
    rollupSqlMs,
    commitMs,
    medianMs: median(minuteMs),
    medianRollupSqlMs: median(rollupSqlMs),
    medianCommitMs: median(commitMs),
    cpu,
    timedMs,
  };
}

export async function stageMinute(ctx: Ctx): Promise<MinuteFigures> {
  const { opts, specs } = ctx;
  const batchPoints = ctx.flushDefaults.readEntries * ENTRY_POINTS;
  // New minutes right after the history: minute 0 warms up, then opts.reps timed ones.
  const t0 = alignDown(Date.now(), MINUTE) - (opts.reps + 3) * MINUTE;
  progress(
    `minute: encoding ${opts.reps + 1} minutes × ${int(specs.length * 60)} points as buffer entries (untimed)`,
  );
  const minutes: DecodedEntry[][][] = [];
  let jsMs: number[] = [];
  for (let m = 0; m <= opts.reps; m++) {
    const data = timeline(specs, opts.seed + 100 + m, t0 + m * MINUTE, SECOND, 60);
    const minute = batches(decodedEntries(data), ctx.flushDefaults.readEntries);
    minutes.push(minute);
    // The per-minute aggregation PointStore.write runs in JS, timed apart on the same rows.
    const perBatch = batches(
      Array.from({ length: data.n }, (_, i) => i),
      batchPoints,
    );
    const started = performance.now();
    for (const idx of perBatch) {
      const from = idx[0] as number;
      const to = from + idx.length;
      aggregateMinutes({
        seriesId: Array.from(data.seriesIndex.subarray(from, to), (s) => ctx.ids[s] as number),
        ts: data.ts.subarray(from, to),
        value: data.value.subarray(from, to),
      });
    }
    jsMs.push(performance.now() - started);
  }
  jsMs = jsMs.slice(1); // the first ran cold
  const small = await minuteCase(ctx, 'small', opts.smallRows, t0, minutes);
  const large = await minuteCase(ctx, 'large', opts.largeRows, t0, minutes);
  await emptyTables(ctx.db);
  const ratio = large.medianMs / small.medianMs;
  progress(
    `minute: median ${fixed(small.medianMs, 0)} ms (small) vs ${fixed(large.medianMs, 0)} ms (large): ${fixed(ratio, 2)}`,
  );
  return {
    small,
    large,
    ratio,
    pointsPerMinute: specs.length * 60,
    writesPerMinute: (minutes[0] as DecodedEntry[][]).length,
    jsAggregateMs: median(jsMs),
  };
}
