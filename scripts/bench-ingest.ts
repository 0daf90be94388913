// Ingest benchmark: `npm run bench:ingest -- [--points N] [--layout all|split|both] [...]`.
//
// In one run, on one throw-away database (pulse_bench_<random>) and random Redis prefixes:
//   1. baseline  raw binary COPY of the rows into `points` (same table, same indexes), twice:
//                as one stream, and split in two halves over 2 parallel streams on 2 connections
//                (the flush stage runs FLUSH_CONCURRENCY = 2 transactions); the faster one counts;
//   2. flush     the real flush handler draining a pre-filled Redis buffer (worker concurrency);
//   3. e2e       the real system (dist/src/main.js with the node options of its npm script, as npm
//                start runs it, in child processes) fed over HTTP until stored, per
//                process layout: one `all` process, and/or one `api` plus one `worker` process.
// Stages 2 and 3 are reported as ratios to the faster baseline, so the figures compare across
// machines.
// Results: a table on stdout, bench/results/ingest.json, and the Ingest section of
// bench/RESULTS.md. Progress goes to stderr. The database and Redis keys are removed at the end,
// also on failure or Ctrl-C.
// The end-to-end stage (pulse processes, HTTP feed), the goals, the tables and the results files
// are in scripts/bench/ingest/; the COPY and flush stages in scripts/bench/copy-stage.ts and
// flush-stage.ts.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Db } from '../src/infra/db.js';
import { ensurePartitions } from '../src/metrics/partitions.js';
import { PointStore } from '../src/metrics/store.js';
import { type CopyStageFigures, stageCopy as runCopyStage } from './bench/copy-stage.js';
import { type CpuRoles, cpuSnapshot } from './bench/cpu.js';
import { type Dataset, generateDataset } from './bench/data.js';
import { benchMain, openEnv, progress, redactUrl, type Resources } from './bench/env.js';
import { insertSeries } from './bench/flush.js';
import { flushDefaults, stageFlush as runFlushStage } from './bench/flush-stage.js';
import * as cli from './bench/options.js';
import {
  fixed,
  int,
  machineInfo,
  printTables,
  RESULTS_MD,
  ROOT,
  textTable,
} from './bench/report.js';
import { type E2eEnv, type E2eFigures, requestBodies, stageE2e } from './bench/ingest/e2e.js';
import { allGoals, type Figures, goalsOf, warmCostOf } from './bench/ingest/goals.js';
import { RESULTS_JSON, type RunSummary, writeResults } from './bench/ingest/results.js';
import {
  type FlushFigures,
  type Layout,
  LAYOUTS,
  type Options,
  SPAN_MS,
} from './bench/ingest/setup.js';
import { NOISE_NOTE, noisyRun, tables, usedNoteOf, warmLineOf } from './bench/ingest/tables.js';
import { UsageError } from '../src/infra/usage-error.js';

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node --import tsx scripts/bench-ingest.ts [options]
  --points N            points to ingest in each stage (default 1000000)
  --layout L            process layout(s) for end to end: all (one \`all\` process), split (one
                        \`api\` plus one \`worker\` process) or both (default both)
${cli.DATABASE_URL_USAGE}
  --redis-url URL       Redis to buffer in (default $REDIS_URL or redis://127.0.0.1:6379)
  --cold                flush stage without its warm-up batch (compiled code, pool, series cache)
${cli.COMMON_USAGE}`;

function parseOptions(argv: string[]): Options {
  const values = cli.parseBenchArgs(
    argv,
    {
      points: { type: 'string' },
      layout: { type: 'string' },
      cold: { type: 'boolean' },
    },
    USAGE,
  );
  const layout = (values.layout ?? 'both').trim();
  if (layout !== 'both' && !LAYOUTS.includes(layout as Layout))
    throw new UsageError('--layout: expected all, split or both');
  return {
    points: cli.wholeOption(values.points, 1_000_000, 'points', 1_000),
    layouts: layout === 'both' ? LAYOUTS : [layout as Layout],
    ...cli.commonOptions(values),
    cold: values.cold ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Small utilities

async function countPoints(db: Db): Promise<number> {
  return (await db.one<{ n: number }>('SELECT count(*)::int AS n FROM points')).n;
}

// ---------------------------------------------------------------------------------------------
// Stages 1 and 2: raw COPY baselines; the flush handler draining a full buffer

type BaselineFigures = CopyStageFigures;

async function stageCopy(
  dbUrl: string,
  db: Db,
  data: Dataset,
  ids: number[],
  roles: CpuRoles,
): Promise<BaselineFigures> {
  return runCopyStage(
    {
      db,
      dbUrl,
      ids,
      label: 'baseline',
      snapshot: () => cpuSnapshot(roles),
      count: () => countPoints(db),
      empty: () => db.none('TRUNCATE points'),
      sizeLine: true,
    },
    data,
  );
}

async function stageFlush(
  db: Db,
  redis: Redis,
  prefix: string,
  data: Dataset,
  baseline: BaselineFigures,
  roles: CpuRoles,
  warmup: boolean,
): Promise<FlushFigures> {
  const r = await runFlushStage(
    {
      db,
      redis,
      prefix,
      store: new PointStore(db),
      log: pino({ level: 'warn', base: { bench: 'flush' } }, pino.destination(2)),
      defaults: flushDefaults(),
      warmup,
      snapshot: () => cpuSnapshot(roles),
      count: () => countPoints(db),
      empty: () => db.none('TRUNCATE points'),
    },
    data,
  );
  await db.none('TRUNCATE points');
  progress(`flush: ${int(data.n)} points in ${fixed(r.ms / 1_000, 2)} s, ${r.batches} batches`);
  return { ...r, ratio: r.pointsPerSec / baseline.rowsPerSec };
}

// ---------------------------------------------------------------------------------------------
// The run: the stages in order, then the report

/** The scratch database and Redis prefixes of one run, and what the stages run on. */
async function openRun(opts: Options, res: Resources) {
  const suffix = randomBytes(4).toString('hex');
  const database = `pulse_bench_${suffix}`;
  const flushPrefix = `pulse-bench-${suffix}-flush`;
  res.prefixes.push(flushPrefix, ...opts.layouts.map((l) => e2ePrefix(suffix, l)));

  progress(
    `server ${redactUrl(opts.databaseUrl)}, Redis ${redactUrl(opts.redisUrl)}, ${int(opts.points)} points`,
  );
  const env = await openEnv(
    opts,
    res,
    database,
    pino({ level: 'warn' }, pino.destination(2)),
    (db) => ensurePartitions(db),
  );
  return { suffix, flushPrefix, ...env };
}

/** A fresh prefix per layout: no buffer, group or queue state carries over between runs. */
const e2ePrefix = (suffix: string, layout: Layout) => `pulse-bench-${suffix}-e2e-${layout}`;

/** Every stage on one dataset: the COPY baselines, the flush, each layout end to end. */
async function runStages(
  opts: Options,
  res: Resources,
): Promise<{ f: Figures; series: number; versions: Record<string, string> }> {
  const { suffix, flushPrefix, db, dbUrl, redis, pgVersion, redisVersion, roles } = await openRun(
    opts,
    res,
  );

  progress(`generating ${int(opts.points)} points (seed ${opts.seed})`);
  const data = generateDataset(opts.points, opts.seed, Date.now(), SPAN_MS);

  // Series rows first (untimed): every stage then meets existing series, as a running system does.
  const ids = await insertSeries(db, data.series);

  const baseline = await stageCopy(dbUrl, db, data, ids, roles);
  const flush = await stageFlush(db, redis, flushPrefix, data, baseline, roles, !opts.cold);
  const env: E2eEnv = {
    res,
    db,
    dbUrl,
    redisUrl: opts.redisUrl,
    data,
    bodies: requestBodies(data),
    baseline,
    roles,
    count: () => countPoints(db),
  };
  const e2es: E2eFigures[] = [];
  for (const layout of opts.layouts)
    e2es.push(await stageE2e(env, layout, e2ePrefix(suffix, layout)));

  // The last layout again with the warm queue paused: warming must cost ingest little.
  const warmLayout = opts.layouts[opts.layouts.length - 1] as Layout;
  const noWarmPrefix = `pulse-bench-${suffix}-e2e-nowarm`;
  res.prefixes.push(noWarmPrefix);
  const noWarm = await stageE2e(env, warmLayout, noWarmPrefix, true);
  return {
    f: { baseline, flush, e2es, noWarm },
    series: data.series.length,
    versions: { postgres: pgVersion, redis: redisVersion },
  };
}

function summaryOf(
  opts: Options,
  f: Figures,
  series: number,
  versions: Record<string, string>,
): RunSummary {
  const goals = goalsOf(f.flush, f.e2es);
  const warm = warmCostOf(f);
  return {
    date: new Date().toISOString(),
    machine: machineInfo(versions),
    opts,
    series,
    goals,
    warm,
    goalList: [...allGoals(goals), warm.goal],
    noisy: noisyRun(f),
    tables: tables(opts.points, f, goals),
    usedNote: usedNoteOf(f.baseline),
    warmLine: warmLineOf(warm, f.noWarm),
  };
}

/** The tables and notes on stdout. */
function printResults(run: RunSummary): void {
  const { machine, tables: t } = run;
  console.log('');
  console.log(
    `Ingest benchmark — ${int(run.opts.points)} points, ${run.series} series, ${run.date}`,
  );
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`,
  );
  console.log('');
  console.log(textTable(t.stage.header, t.stage.rows, t.stage.right));
  console.log(run.usedNote);
  console.log('');
  printTables([t.detail, t.e2eDetail, t.cpu]);
  console.log(`${run.warmLine}\n`);
  if (run.noisy) console.log(`warning: ${NOISE_NOTE}\n`);
}

async function run(opts: Options, res: Resources): Promise<boolean> {
  const { f, series, versions } = await runStages(opts, res);
  const summary = summaryOf(opts, f, series, versions);
  printResults(summary);
  await writeResults(summary, f);
  console.log(`wrote ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`);
  for (const g of summary.goalList.filter((x) => !x.pass))
    console.log(`goal missed: ${g.name}: ${g.actual} (goal ${g.target})`);
  return summary.goalList.every((g) => g.pass);
}

void benchMain('bench-ingest', USAGE, parseOptions, run);
