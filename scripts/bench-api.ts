// Read API benchmark: `npm run bench:api -- [--series N] [--days N] [--duration S] [...]`.
//
// In one run, on one throw-away database (pulse_bench_api_<random>) and a random Redis prefix:
//   1. fill      a week (--days) of --series series at one point per minute, by binary COPY
//                into `points`; rollup_1m by one INSERT … SELECT … GROUP BY per day with
//                DDSketch keys computed in SQL exactly as src/metrics/sketch.ts keyOf does;
//                rollup_1h by the real aggregate job; then VACUUM ANALYZE (untimed for the
//                measurements, reported as the fill time);
//   2. system    the real API (node dist/src/main.js api, SAMPLERS=none), its cache filled by
//                the real warm job;
//   3. baseline  a bare Express 5 app in another child process answering a fixed body of the
//                same bytes (a real answer of the API) with the same kind of headers;
//   4. load      autocannon (programmatic, in this process, same cores) at --connections for
//                --duration against GET /metrics/summary?time_range=24h and
//                GET /time-series 7d/1h, and against the baseline with the same bodies;
//   5. latency   unloaded (1 connection) p50 of the warm answers; the plan's summary SQL over
//                the raw points (median of --sql-runs); each answer on a cache miss (the entry
//                removed with POST /cache/refresh before each GET; median of --miss-runs).
// Goals are on ratios to the baselines of the same run. Results: a table on stdout,
// bench/results/api.json and the API section of bench/RESULTS.md. Progress goes to stderr.
// The database, Redis keys and child processes are removed at the end, also on failure or Ctrl-C.
// Each stage is a module of scripts/bench/api/; this file runs them in order and prints.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pino } from 'pino';
import type { Logger } from '../src/infra/logger.js';
import { liveRun } from './bench/api-live.js';
import {
  benchMain,
  type BenchEnv,
  type Child,
  checkRunning,
  openEnv,
  progress,
  redactUrl,
  type Resources,
} from './bench/env.js';
import { fill, fleet, type SeriesSpec } from './bench/fleet.js';
import { fixed, int, printTables, RESULTS_MD, ROOT } from './bench/report.js';
import { startApi, startBaseline, stopNamed } from './bench/api/children.js';
import type { CpuRoles } from './bench/api/cpu.js';
import type { ApiFigures } from './bench/api/figures.js';
import { loadAutocannon, loadRuns, unloadedRuns } from './bench/api/load.js';
import { missRuns } from './bench/api/misses.js';
import { type Options, parseOptions, USAGE } from './bench/api/options.js';
import { planSql } from './bench/api/plan-sql.js';
import { type Report, reportOf, RESULTS_JSON, writeResults } from './bench/api/results.js';
import { scaleCase } from './bench/api/scale.js';
import { NOISE_NOTE } from './bench/api/tables.js';
import { apiLimits, baselineRoutes, warmAnswers, warmPass } from './bench/api/warm.js';

const LIVE_POINTS_PER_SEC = 1_000;

/** What the stages of one run share: its names, its scratch database and Redis, its processes. */
interface Bench {
  opts: Options;
  res: Resources;
  database: string;
  prefix: string;
  adminToken: string;
  autocannonVersion: string;
  quiet: Logger;
  env: BenchEnv;
  /** Whose CPU is whose; the API and the baseline are added while they run. */
  roles: CpuRoles;
}

async function openBench(opts: Options, res: Resources): Promise<Bench> {
  const { version: autocannonVersion } = loadAutocannon();
  const suffix = randomBytes(4).toString('hex');
  const database = `pulse_bench_api_${suffix}`;
  const prefix = `pulse-bench-${suffix}-api`;
  res.prefixes.push(prefix);
  const adminToken = randomBytes(24).toString('base64url');
  progress(
    `server ${redactUrl(opts.databaseUrl)}, Redis ${redactUrl(opts.redisUrl)}, ${int(opts.series)} series × ${opts.days} days, autocannon ${autocannonVersion}`,
  );
  const quiet = pino({ level: 'warn' }, pino.destination(2));
  const env = await openEnv(opts, res, database, quiet);
  const roles: CpuRoles = env.roles;
  return { opts, res, database, prefix, adminToken, autocannonVersion, quiet, env, roles };
}

/** 2. The system: the real API, its cache filled by the real warm job. */
async function startSystem(bench: Bench, specs: SeriesSpec[]) {
  const { env, prefix } = bench;
  const { api, base } = await startApi(bench.res, {
    dbUrl: env.dbUrl,
    redisUrl: bench.opts.redisUrl,
    prefix,
    adminToken: bench.adminToken,
  });
  bench.roles.api = api.pid;
  progress('warm job: summaries, series, every trend (as the worker runs it)');
  const limits = apiLimits();
  const warmed = await warmPass(env.db, env.redis, prefix, bench.quiet, limits);
  progress(`warm job: ${warmed.entries} entries in ${fixed(warmed.ms / 1_000, 1)} s`);
  const answers = await warmAnswers(base, specs[0]?.def.metricName as string);
  return { api, base, limits, warmed, answers };
}
type System = Awaited<ReturnType<typeof startSystem>>;

/** 3.–4. The baseline answering the same bodies, and the load runs against both. */
async function againstBaseline(bench: Bench, system: System) {
  const { baseline, base } = await startBaseline(bench.res, baselineRoutes(system.answers));
  bench.roles.baseline = baseline.pid;
  const targets = { api: system.base, baseline: base, answers: system.answers, roles: bench.roles };
  const load = await loadRuns(targets, bench.opts);
  const unloaded = await unloadedRuns(targets, bench.opts);
  await stopNamed(bench.res, baseline);
  delete bench.roles.baseline;
  return { load, unloaded };
}

/** 5. On request: the plan's SQL over the raw points, and the API on cache misses. */
async function onRequest(bench: Bench, system: System, metricNames: string[]) {
  const plan = await planSql(bench.env.dbUrl, bench.res, bench.opts.sqlRuns, bench.roles);
  const miss = await missRuns(system.base, bench.adminToken, bench.opts.missRuns, metricNames);
  return { plan, miss };
}

/** The API stops: its exit code goes into the results. */
async function stopApi(bench: Bench, api: Child): Promise<number | null> {
  checkRunning(api, 'during the run');
  const apiExit = await stopNamed(bench.res, api);
  delete bench.roles.api;
  return apiExit;
}

/** 6. Live: worker + api on their defaults under steady ingest, a dashboard polling everything. */
async function live(bench: Bench, specs: SeriesSpec[], metricNames: string[]) {
  const livePrefix = `${bench.prefix}-live`;
  bench.res.prefixes.push(livePrefix);
  if (bench.opts.liveMinutes === 0) return null;
  return liveRun(bench.res, {
    dbUrl: bench.env.dbUrl,
    redisUrl: bench.opts.redisUrl,
    prefix: livePrefix,
    minutes: bench.opts.liveMinutes,
    pointsPerSec: LIVE_POINTS_PER_SEC,
    series: specs.map((sp) => sp.def),
    metrics: metricNames,
  });
}

function print(rep: Report): void {
  const { machine, tables } = rep;
  console.log('');
  console.log(`API benchmark — ${rep.dataLine}, ${rep.date}`);
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}, autocannon ${rep.f.versions.autocannon}`,
  );
  console.log(rep.fillLine);
  console.log('');
  const shown = [tables.main, tables.fleet, ...(tables.scale ? [tables.scale] : [])];
  printTables([...shown, tables.runs, tables.onRequest, tables.cpu]);
  console.log(`${rep.liveLine}\n`);
  if (rep.noisy) console.log(`warning: ${NOISE_NOTE}\n`);
}

async function run(opts: Options, res: Resources): Promise<boolean> {
  const bench = await openBench(opts, res);
  const { db, dbUrl } = bench.env;
  // 1. The data
  const specs = fleet(opts.series, opts.metrics, opts.seed);
  const filled = await fill(opts, res, db, dbUrl, specs);
  const system = await startSystem(bench, specs);
  const { load, unloaded } = await againstBaseline(bench, system);
  // The metric names: the time-series misses and the live dashboard go over them.
  const metricNames = [...new Set(specs.map((s) => s.def.metricName))];
  const { plan, miss } = await onRequest(bench, system, metricNames);
  const apiExit = await stopApi(bench, system.api);
  const liveFigures = await live(bench, specs, metricNames);
  // 7. Scale: 1 day of --scale-series series against 1 day of --series, the same measures
  const scale =
    opts.scaleSeries > 0
      ? await scaleCase(opts, { res, db, dbUrl, log: bench.quiet, limits: system.limits })
      : null;
  const { pgVersion, redisVersion } = bench.env;
  const figures: ApiFigures = {
    opts,
    versions: { postgres: pgVersion, redis: redisVersion, autocannon: bench.autocannonVersion },
    filled,
    warmed: system.warmed,
    answers: system.answers,
    load,
    unloaded,
    plan,
    miss,
    apiExit,
    live: liveFigures,
    scale,
  };
  const rep = reportOf(figures);
  print(rep);
  await writeResults(rep);
  console.log(`wrote ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`);
  if (opts.keepDatabase) {
    progress(`keeping database ${bench.database} (${redactUrl(dbUrl)}): drop it when done`);
    res.database = undefined;
  }
  for (const g of rep.goals.filter((x) => !x.pass))
    console.log(`goal missed: ${g.name}: ${fixed(g.actual, 2)} (goal ${g.target})`);
  return rep.goals.every((g) => g.pass);
}

void benchMain('bench-api', USAGE, parseOptions, run);
