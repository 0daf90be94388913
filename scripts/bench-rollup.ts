// Rollup benchmark: `npm run bench:rollup -- [--series N] [--days N] [...]`.
//
// In one run, on one throw-away database (pulse_bench_<random>) and a random Redis prefix, each
// figure against a baseline measured in the same run on the same machine and database server:
//   1. flush     the real flush handler (binary COPY + rollup_1m update in one transaction)
//                draining a pre-filled Redis buffer with its default concurrency, against raw
//                binary COPY of the same rows into `points` (1 stream and 2 parallel streams; the
//                faster counts);
//   2. minute    one new minute of data (one point per series per second) written through
//                PointStore.write in the flush's batch size, with a large history already stored,
//                against the same minute with a small history (points by binary COPY, their
//                rollup_1m rows by SQL); the ratio says whether the cost follows the new data or
//                the table size;
//   3. hour      the aggregate job building rollup_1h for a week of rollup_1m rows (made by SQL,
//                with DDSketch-shaped sketches), every hour marked dirty;
//   4. accuracy  p95/p99 of summary() and trend() (merged sketches of data written through
//                PointStore.write, rollup_1h built by the aggregate job) against PostgreSQL's
//                percentile_disc over the raw rows.
// Results: a table on stdout, bench/results/rollup.json, and the Rollups section of
// bench/RESULTS.md. Progress goes to stderr. The database and Redis keys are removed at the end,
// also on failure or Ctrl-C.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pino } from 'pino';
import { DAY, SECOND } from '../src/infra/time.js';
import { ensurePartitions } from '../src/metrics/partitions.js';
import { benchMain, openEnv, progress, redactUrl, type Resources } from './bench/env.js';
import { insertSeries } from './bench/flush.js';
import { flushDefaults } from './bench/flush-stage.js';
import { fixed, int, RESULTS_MD, ROOT, textTable } from './bench/report.js';
import { stageAccuracy } from './bench/rollup/accuracy.js';
import { alignDown, type Ctx } from './bench/rollup/context.js';
import { stageCopy, stageFlush } from './bench/rollup/flush.js';
import { type Figures, goalsOf, noisyStages, pct, ROLLUPS_OFF } from './bench/rollup/goals.js';
import { stageHour } from './bench/rollup/hour.js';
import { stageMinute } from './bench/rollup/minute.js';
import { type Options, parseOptions, STAGES, USAGE } from './bench/rollup/options.js';
import {
  type AllFigures,
  machineOf,
  noiseNoteOf,
  reducedNoteOf,
  reducedSize,
  RESULTS_JSON,
  type RunSummary,
  writeResults,
} from './bench/rollup/results.js';
import { makeSeries, timeline } from './bench/rollup/series.js';
import { tables } from './bench/rollup/tables.js';

/** The scratch database and Redis prefix, the series stored in it, and the stages' context. */
async function openContext(
  opts: Options,
  res: Resources,
  database: string,
): Promise<{ ctx: Ctx; pgVersion: string; redisVersion: string }> {
  const log = pino({ level: 'warn', base: { bench: 'rollup' } }, pino.destination(2));
  const { admin, db, dbUrl, redis, pgVersion, redisVersion, roles } = await openEnv(
    opts,
    res,
    database,
    log,
    // Partitions from three days back: the accuracy data reaches 26 h into the past.
    (db) => ensurePartitions(db, Date.now() - 2 * DAY, 9),
  );

  const specs = makeSeries(opts.series, opts.seed);
  const defs = specs.map((s) => s.def);
  const ids = await insertSeries(db, defs);
  const ctx: Ctx = {
    db,
    dbUrl,
    redis,
    res,
    roles,
    specs,
    ids,
    flushDefaults: flushDefaults(),
    log,
    opts,
    database,
    admin,
    adminPid: (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]
      ?.pid as number,
  };
  return { ctx, pgVersion, redisVersion };
}

/** The stages asked for, in order. */
async function runStages(ctx: Ctx, prefix: string): Promise<Figures> {
  const { opts, specs } = ctx;
  const f: Figures = {};
  if (opts.stages.includes('flush')) {
    const steps = Math.ceil(opts.points / specs.length);
    progress(
      `flush: generating ${int(steps * specs.length)} points (${int(specs.length)} series, one per second each)`,
    );
    const data = timeline(
      specs,
      opts.seed + 1,
      alignDown(Date.now(), SECOND) - steps * SECOND,
      SECOND,
      steps,
    );
    f.baseline = await stageCopy(ctx, data);
    f.flush = await stageFlush(ctx, prefix, data, f.baseline);
  }
  if (opts.stages.includes('minute')) f.minute = await stageMinute(ctx);
  if (opts.stages.includes('hour')) f.hour = await stageHour(ctx);
  if (opts.stages.includes('accuracy')) f.accuracy = await stageAccuracy(ctx);

  return f;
}

/** The tables and notes on stdout. */
function printResults(run: RunSummary, f: Figures): void {
  const { date, machine, reduced, noisy, goals } = run;
  const t = run.tables;
  console.log('');
  console.log(`Rollup benchmark — ${int(run.series)} series, ${date}`);
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`,
  );
  if (reduced.length > 0) console.log(reducedNoteOf(reduced));
  console.log('');
  console.log(textTable(t.main.header, t.main.rows, t.main.right));
  if (f.flush) console.log(`Flush with rollups disabled: ${ROLLUPS_OFF}.`);
  console.log('');
  for (const table of t.details) {
    console.log(textTable(table.header, table.rows, table.right));
    console.log('');
  }
  if (f.minute)
    console.log(
      `Per-minute aggregation in JavaScript (aggregateMinutes, timed apart on the same rows): ${fixed(f.minute.jsAggregateMs, 0)} ms per new minute.`,
    );
  if (f.accuracy?.worst) {
    const w = f.accuracy.worst;
    console.log(
      `Largest error: ${w.query}() ${w.range}, ${w.key}, ${w.quantile}: ${w.estimate} vs exact ${w.exact} (${pct(w.errorPct)})`,
    );
  }
  if (noisy.length > 0) console.log(`warning: ${noiseNoteOf(noisy)}`);
  for (const g of goals.filter((x) => !x.pass))
    console.log(`goal missed: ${g.name}: ${g.actual} (goal ${g.target})`);
}

async function run(opts: Options, res: Resources): Promise<boolean> {
  const suffix = randomBytes(4).toString('hex');
  const database = `pulse_bench_${suffix}`;
  const prefix = `pulse-bench-${suffix}-rollup`;
  res.prefixes.push(prefix);
  progress(
    `server ${redactUrl(opts.databaseUrl)}, Redis ${redactUrl(opts.redisUrl)}; stages ${opts.stages.join(', ')}`,
  );
  const { ctx, pgVersion, redisVersion } = await openContext(opts, res, database);
  const f = await runStages(ctx, prefix);
  const goals = goalsOf(f);
  const summary: RunSummary = {
    date: new Date().toISOString(),
    machine: machineOf(pgVersion, redisVersion),
    series: ctx.specs.length,
    opts,
    reduced: reducedSize(opts),
    noisy: noisyStages(f),
    goals,
    pass: goals.every((g) => g.pass),
    tables: tables(f, goals, ctx.specs.length),
  };
  printResults(summary, f);
  if (opts.stages.length !== STAGES.length) {
    progress(
      'not every stage ran: bench/results/rollup.json and bench/RESULTS.md left as they were',
    );
    return summary.pass;
  }
  await writeResults(summary, f as AllFigures);
  console.log(`wrote ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`);
  return summary.pass;
}

void benchMain('bench-rollup', USAGE, parseOptions, run, 'COPY connection');
