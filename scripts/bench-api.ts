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
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { DashboardCache } from '../src/cache/dashboard-cache.js';
import { cacheName } from '../src/cache/names.js';
import { envSchema, loadConfig } from '../src/config.js';
import type { Db } from '../src/infra/db.js';
import type { Logger } from '../src/infra/logger.js';
import { keysFor } from '../src/infra/keys.js';
import { warm } from '../src/jobs/warm.js';
import { summaryView, trendView } from '../src/metrics/dashboard.js';
import { liveRun } from './bench/api-live.js';
import { fill, fleet, fleetSize, FLEET_OPTIONS } from './bench/fleet.js';
import { cpuCoresOf, cpuSnapshotOf, type RolesOf, type SnapshotOf } from './bench/cpu.js';
import {
  benchMain,
  checkRunning,
  type Child,
  freePort,
  openEnv,
  progress,
  redactUrl,
  type Resources,
  startChild,
  stopChild,
} from './bench/env.js';
import {
  COMMON_USAGE,
  commonOptions,
  DATABASE_URL_USAGE,
  parseBenchArgs,
  wholeOption,
} from './bench/options.js';
import {
  fixed,
  int,
  markdownTable,
  percentile,
  RESULTS_MD,
  ROOT,
  textTable,
  writeResultFiles,
} from './bench/report.js';
import { MINUTE, HOUR, DAY } from '../src/infra/time.js';

const RESULTS_JSON = path.join(ROOT, 'bench', 'results', 'api.json');

const GOALS = {
  throughputRatio: 0.66,
  p99Ratio: 1.5,
  rawSqlRatio: 1_000,
  summary24hMissMs: 50,
  summary7dMissMs: 80,
  planOverMiss: 18,
  trendMissMs: 10,
  warmPassS: 10,
  liveMisses: 0,
  scaleSummaryMissMs: 500,
  scaleWarmPassS: 60,
};
/** Cores used by processes outside the benchmark above which a run is flagged as noisy. */
const NOISE_CORES = 0.15;
/** The entries live this long (CACHE_TTL of the API and the warm job): no run outlives them. */
const CACHE_TTL = '1h';
const CACHE_TTL_MS = HOUR;
const UNLOADED_SECONDS_MAX = 5;
const SUMMARY_PATH = '/api/v1/metrics/summary?time_range=24h';
const SUMMARY_7D_PATH = '/api/v1/metrics/summary?time_range=7d';
const trend24hPath = (metric: string) =>
  `/api/v1/time-series?metric_name=${encodeURIComponent(metric)}&time_range=24h&resolution=5m`;
const LIVE_POINTS_PER_SEC = 1_000;
/** Misses of each kind run first, untimed (see misses()). */
const MISS_UNTIMED = 3;
const trendPath = (metric: string) =>
  `/api/v1/time-series?metric_name=${encodeURIComponent(metric)}&time_range=7d&resolution=1h`;

// The plan's summary, computed on request from the raw rows (its table shape is the
// performance_metrics_ts view: points joined to series).
const PLAN_SUMMARY_SQL = `SELECT metric_name,
       AVG(metric_value) AS avg_value,
       MAX(metric_value) AS max_value,
       MIN(metric_value) AS min_value,
       PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY metric_value) AS p95_value
FROM performance_metrics_ts
WHERE "timestamp" >= NOW() - INTERVAL '24 hours'
GROUP BY metric_name
ORDER BY metric_name`;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  series: number;
  days: number;
  metrics: number;
  connections: number;
  durationS: number;
  warmupS: number;
  sqlRuns: number;
  missRuns: number;
  databaseUrl: string;
  redisUrl: string;
  seed: number;
  failOnGoal: boolean;
  liveMinutes: number;
  scaleSeries: number;
  keepDatabase: boolean;
}

const USAGE = `usage: node --import tsx scripts/bench-api.ts [options]
  --series N            series to store (default 1000), spread over --metrics metric names
  --days N              days of history, one point per series per minute (default 7)
  --metrics N           metric names (default 30, at most ${60})
  --connections N       autocannon connections of the load runs (default 50)
  --duration S          seconds of each load run (default 10)
  --warmup S            seconds of untimed load before each load run (default 2)
  --sql-runs N          timed runs of the plan's SQL on the raw points, after one untimed (default 5)
  --miss-runs N         timed cache misses of each answer (default 7, at least 5)
${DATABASE_URL_USAGE}
  --redis-url URL       Redis for the cache (default $REDIS_URL or redis://127.0.0.1:6379)
  --live-minutes N      minutes of the live run: worker + api under ~1,000 points/s while a
                        dashboard polls every standard entry (default 5; 0 skips it)
  --scale-series N      also measure 1 day of N series against 1 day of --series (default
                        10000; 0 skips it)
  --keep-database       leave the benchmark database in place at the end (to look at it)
${COMMON_USAGE}`;

function parseOptions(argv: string[]): Options {
  const values = parseBenchArgs(
    argv,
    {
      ...FLEET_OPTIONS,
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'sql-runs': { type: 'string' },
      'miss-runs': { type: 'string' },
      'live-minutes': { type: 'string' },
      'scale-series': { type: 'string' },
      'keep-database': { type: 'boolean' },
    },
    USAGE,
  );
  return {
    ...fleetSize(values, { metrics: 30, minDays: 1 }),
    connections: wholeOption(values.connections, 50, 'connections', 1, 10_000),
    durationS: wholeOption(values.duration, 10, 'duration', 1, 3_600),
    warmupS: wholeOption(values.warmup, 2, 'warmup', 0, 600),
    sqlRuns: wholeOption(values['sql-runs'], 5, 'sql-runs', 1, 1_000),
    missRuns: wholeOption(values['miss-runs'], 7, 'miss-runs', 5, 1_000),
    liveMinutes: wholeOption(values['live-minutes'], 5, 'live-minutes', 0, 600),
    scaleSeries: wholeOption(values['scale-series'], 10_000, 'scale-series', 0, 100_000),
    keepDatabase: values['keep-database'] === true,
    ...commonOptions(values, 2 ** 31),
  };
}

// ---------------------------------------------------------------------------------------------
// Small utilities

const sortedOf = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => percentile(sortedOf(xs), 50);
const ms = (x: number) => (x >= 100 ? fixed(x, 0) : x >= 10 ? fixed(x, 1) : fixed(x, 2));
const times = (x: number) => `${x >= 100 ? int(x) : fixed(x, 1)}×`;

// ---------------------------------------------------------------------------------------------
// CPU accounting: who used the cores during a run (as bench-lib's, with this benchmark's roles).

const CPU_GROUPS = ['bench', 'api', 'baseline', 'postgres', 'redis', 'other'] as const;
type CpuGroup = (typeof CPU_GROUPS)[number];
type Cores = Record<CpuGroup, number>;
type CpuRoles = RolesOf<CpuGroup>;
type CpuSnapshot = SnapshotOf<CpuGroup>;
const cpuSnapshot = (roles: CpuRoles): CpuSnapshot => cpuSnapshotOf(CPU_GROUPS, roles);
const cpuCores = (before: CpuSnapshot, after: CpuSnapshot, elapsedMs: number): Cores =>
  cpuCoresOf(CPU_GROUPS, before, after, elapsedMs);

// ---------------------------------------------------------------------------------------------
// Child processes: the pulse API and the bare Express baseline

async function waitFor(
  url: string,
  p: Child,
  ok: (r: Response) => boolean,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 90_000;
  let last = '';
  while (Date.now() < deadline) {
    checkRunning(p, `before ${what}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(3_000) });
      last = `${r.status} ${(await r.text()).slice(0, 200)}`;
      if (ok(r)) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${what} did not happen within 90 s (last: ${last})\n${p.output.show(30)}`);
}

async function stopNamed(res: Resources, p: Child): Promise<number | null> {
  const r = await stopChild(p.child, 20_000);
  res.children = res.children.filter((c) => c !== p.child);
  if (r.code !== 0)
    progress(
      `the ${p.name} process exited with ${r.code ?? r.signal}${r.timedOut ? ' (killed after 20 s)' : ''}; last output:\n${p.output.show(20)}`,
    );
  return r.code;
}

// The baseline: a bare Express 5 app, plain JavaScript like dist/, each route answering a fixed
// body with the headers the API sets on a cached answer (JSON type, ETag, Cache-Control,
// Last-Modified). Its routes come as JSON on stdin; it prints the port it listens on.
const BASELINE_SERVER = `
import express from 'express';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
const spec = JSON.parse(readFileSync(0, 'utf8'));
const app = express();
app.disable('x-powered-by');
for (const r of spec.routes) {
  app.get(r.path, (_req, res) => {
    res.setHeader('ETag', r.etag);
    res.setHeader('Cache-Control', r.cacheControl);
    res.setHeader('Last-Modified', r.lastModified);
    res.type('application/json').send(r.body);
  });
}
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n');
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
`;

interface BaselineRoute {
  path: string;
  body: string;
  etag: string;
  cacheControl: string;
  lastModified: string;
}

async function startBaseline(
  res: Resources,
  routes: BaselineRoute[],
): Promise<Child & { port: number }> {
  const p = startChild(
    res,
    'baseline',
    ['--input-type=module', '-e', BASELINE_SERVER],
    { PATH: process.env.PATH, NODE_ENV: process.env.NODE_ENV },
    'pipe',
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`baseline did not start:\n${p.output.show(20)}`)),
      30_000,
    );
    let seen = '';
    p.child.stdout?.on('data', (c: Buffer) => {
      seen += c.toString('utf8');
      const m = /\{"port":(\d+)\}/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    p.child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`baseline exited (${code}):\n${p.output.show(20)}`));
    });
    p.child.stdin?.end(JSON.stringify({ routes }));
  });
  return { ...p, port };
}

// ---------------------------------------------------------------------------------------------
// Load runs (autocannon, programmatic)

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  throughput: { average: number; total: number };
}
type Autocannon = (
  opts: Record<string, unknown>,
  done: (err: Error | null, result: AutocannonResult) => void,
) => EventEmitter;

let autocannonFn: Autocannon | undefined;
function loadAutocannon(): { run: Autocannon; version: string } {
  const require = createRequire(import.meta.url);
  try {
    autocannonFn ??= require('autocannon') as Autocannon;
    const { version } = require('autocannon/package.json') as { version: string };
    return { run: autocannonFn, version };
  } catch (err) {
    throw new Error(
      `autocannon is not installed (npm install -D autocannon): ${(err as Error).message}`,
    );
  }
}

interface LoadRun {
  label: string;
  target: 'api' | 'baseline';
  path: string;
  connections: number;
  seconds: number;
  requests: number;
  reqPerSec: number;
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Bytes per response as received (status line, headers and body). */
  responseBytes: number;
  bodyBytes: number;
  errors: number;
  non2xx: number;
  timeouts: number;
  cpu: Cores;
  /** API runs: where the answers came from (from GET /cache before and after). */
  cache?: { l1: number; l2: number; misses: number };
}

async function autocannonRun(
  url: string,
  connections: number,
  seconds: number,
  onLatency?: (ms: number) => void,
): Promise<AutocannonResult> {
  const { run } = loadAutocannon();
  return new Promise((resolve, reject) => {
    const instance = run({ url, connections, duration: seconds, pipelining: 1 }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
    if (onLatency)
      instance.on('response', (_client: unknown, status: number, _bytes: number, t: number) => {
        if (status >= 200 && status < 300) onLatency(t);
      });
  });
}

async function cacheCounts(base: string): Promise<{ l1: number; l2: number; misses: number }> {
  const r = await fetch(`${base}/api/v1/cache`);
  const body = (await r.json()) as { stats: { l1_hits: number; l2_hits: number; misses: number } };
  return { l1: body.stats.l1_hits, l2: body.stats.l2_hits, misses: body.stats.misses };
}

async function loadRun(
  label: string,
  target: 'api' | 'baseline',
  base: string,
  urlPath: string,
  bodyBytes: number,
  connections: number,
  seconds: number,
  warmupS: number,
  roles: CpuRoles,
): Promise<LoadRun> {
  const url = `${base}${urlPath}`;
  if (warmupS > 0) await autocannonRun(url, connections, warmupS);
  const before = target === 'api' ? await cacheCounts(base) : undefined;
  const latencies: number[] = [];
  const cpu0 = cpuSnapshot(roles);
  const started = performance.now();
  const r = await autocannonRun(url, connections, seconds, (t) => latencies.push(t));
  const elapsed = performance.now() - started;
  const cpu = cpuCores(cpu0, cpuSnapshot(roles), elapsed);
  const after = target === 'api' ? await cacheCounts(base) : undefined;
  const sorted = sortedOf(latencies);
  const ok = r['2xx'];
  const run: LoadRun = {
    label,
    target,
    path: urlPath,
    connections,
    seconds: r.duration,
    requests: ok,
    reqPerSec: ok / r.duration,
    latency: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? NaN,
      mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
    },
    responseBytes: ok > 0 ? r.throughput.total / ok : 0,
    bodyBytes,
    errors: r.errors,
    non2xx: r.non2xx,
    timeouts: r.timeouts,
    cpu,
    ...(before && after
      ? {
          cache: {
            l1: after.l1 - before.l1,
            l2: after.l2 - before.l2,
            misses: after.misses - before.misses,
          },
        }
      : {}),
  };
  progress(
    `${label}, ${connections} connection(s), ${fixed(r.duration, 1)} s: ${int(run.reqPerSec)} req/s, p50 ${ms(run.latency.p50)} ms, p99 ${ms(run.latency.p99)} ms${r.errors + r.non2xx + r.timeouts > 0 ? `, ${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts` : ''}${run.cache ? `; cache l1 ${int(run.cache.l1)}, l2 ${run.cache.l2}, misses ${run.cache.misses}` : ''}`,
  );
  if (r.errors > 0 || r.non2xx > 0 || r.timeouts > 0)
    throw new Error(`${label}: ${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts`);
  if (run.cache && run.cache.misses > 0)
    throw new Error(`${label}: ${run.cache.misses} cache misses during a warm run`);
  return run;
}

// ---------------------------------------------------------------------------------------------
// On-request latencies: the plan's SQL, and cache misses

interface Timed {
  runsMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

function timed(runsMs: number[]): Timed {
  const s = sortedOf(runsMs);
  return {
    runsMs,
    medianMs: median(runsMs),
    minMs: s[0] ?? NaN,
    maxMs: s[s.length - 1] ?? NaN,
  };
}

async function planSql(
  dbUrl: string,
  res: Resources,
  runs: number,
  roles: CpuRoles,
): Promise<Timed & { metrics: number; rowsScanned: number; cpu: Cores }> {
  const client = new pg.Client({ connectionString: dbUrl, application_name: 'pulse-bench-plan' });
  res.clients.push(client);
  await client.connect();
  try {
    const scanned = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM points WHERE ts >= now() - interval '24 hours'`,
    );
    progress(`plan's SQL: one untimed run, then ${runs} timed`);
    await client.query(PLAN_SUMMARY_SQL);
    const runsMs: number[] = [];
    let metrics = 0;
    const cpu0 = cpuSnapshot(roles);
    const started = performance.now();
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const r = await client.query(PLAN_SUMMARY_SQL);
      runsMs.push(performance.now() - t);
      metrics = r.rowCount ?? 0;
    }
    const cpu = cpuCores(cpu0, cpuSnapshot(roles), performance.now() - started);
    const out = { ...timed(runsMs), metrics, rowsScanned: scanned.rows[0]?.n ?? 0, cpu };
    progress(`plan's SQL: median ${ms(out.medianMs)} ms over ${int(out.rowsScanned)} raw rows`);
    return out;
  } finally {
    await client.end();
    res.clients = res.clients.filter((c) => c !== client);
  }
}

/**
 * Removes `name` from the cache (L2 and every L1) through the admin API, then GETs `urlPath`.
 * The first `untimed` runs are not timed: a process that has never computed such an answer
 * runs its code cold (unoptimised), as the plan's SQL gets one untimed run before its timing.
 */
async function misses(
  base: string,
  adminToken: string,
  runs: { name: string; path: string }[],
  untimed = 0,
): Promise<Timed & { bodyBytes: number }> {
  const runsMs: number[] = [];
  let bodyBytes = 0;
  for (const [i, run] of runs.entries()) {
    const refresh = await fetch(`${base}/api/v1/cache/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pattern: run.name }),
    });
    const refreshed = (await refresh.json()) as { removed?: number };
    if (refresh.status !== 200 || refreshed.removed !== 1)
      throw new Error(
        `POST /cache/refresh ${run.name}: ${refresh.status} ${JSON.stringify(refreshed)}`,
      );
    const t = performance.now();
    const r = await fetch(`${base}${run.path}`);
    const text = await r.text();
    if (i >= untimed) runsMs.push(performance.now() - t);
    const served = (JSON.parse(text) as { served_from?: string }).served_from;
    if (r.status !== 200 || served !== 'computed')
      throw new Error(`GET ${run.path} after refresh: ${r.status}, served_from ${served}`);
    bodyBytes = Buffer.byteLength(text);
  }
  return { ...timed(runsMs), bodyBytes };
}

// ---------------------------------------------------------------------------------------------
// Scale: the same reads over 1 day of --series and of --scale-series series

interface ScalePoint {
  series: number;
  points: number;
  fillS: number;
  summary24hMissMs: number;
  trend24hMissMs: number;
  trend7dMissMs: number;
  warmPassS: number;
  warmEntries: number;
}

/** Median of `runs` timed calls, after one untimed. */
async function medianMs(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

async function scaleCase(
  opts: Options,
  res: Resources,
  db: Db,
  dbUrl: string,
  log: Logger,
  limits: { memoryPercent: number; cpuPercent: number },
): Promise<{ small: ScalePoint; large: ScalePoint }> {
  const measure = async (series: number): Promise<ScalePoint> => {
    progress(`scale: ${int(series)} series × 1 day`);
    await db.none(
      'TRUNCATE points, rollup_1m, rollup_1h, rollup_dirty_hours, metric_rollup, metric_rollup_partial, series, metrics RESTART IDENTITY',
    );
    const o = { ...opts, series, days: 1 };
    const specs = fleet(series, opts.metrics, opts.seed);
    const filled = await fill(o, res, db, dbUrl, specs);
    const metric = specs[0]?.def.metricName as string;
    // What the API computes on a miss, in this process (no HTTP).
    const summary24hMissMs = await medianMs(opts.missRuns, () =>
      summaryView(db, '24h', DAY, limits),
    );
    const trendOf = (range: string, rangeMs: number, resolution: string, resolutionMs: number) =>
      medianMs(opts.missRuns, () =>
        trendView(db, { metric, timeRange: range, rangeMs, resolution, resolutionMs }),
      );
    const trend24hMissMs = await trendOf('24h', DAY, '5m', 5 * MINUTE);
    const trend7dMissMs = await trendOf('7d', 7 * DAY, '1h', HOUR);
    const scalePrefix = `pulse-bench-scale-${series}-${randomBytes(3).toString('hex')}`;
    res.prefixes.push(scalePrefix);
    const warmed = await warm(
      {
        db,
        cache: new DashboardCache(res.redis as Redis, keysFor(scalePrefix), log),
        log,
        limits,
        ttlMs: CACHE_TTL_MS,
      },
      { reason: 'manual' },
    );
    progress(
      `scale: ${int(series)} series: summary 24h miss ${ms(summary24hMissMs)} ms, warm pass ${fixed(warmed.ms / 1_000, 1)} s`,
    );
    return {
      series,
      points: filled.points,
      fillS: filled.totalMs / 1_000,
      summary24hMissMs,
      trend24hMissMs,
      trend7dMissMs,
      warmPassS: warmed.ms / 1_000,
      warmEntries: warmed.entries,
    };
  };
  const small = await measure(opts.series);
  const large = await measure(opts.scaleSeries);
  return { small, large };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Goal {
  name: string;
  target: string;
  actual: number;
  pass: boolean;
}

async function writeResults(report: Record<string, unknown>, markdown: string): Promise<void> {
  const round = (_key: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1_000) / 1_000 : v;
  await writeResultFiles(RESULTS_JSON, 'API', report, markdown, round);
}

// ---------------------------------------------------------------------------------------------

async function run(opts: Options, res: Resources): Promise<boolean> {
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
  const env0 = await openEnv(opts, res, database, quiet);
  const { db, dbUrl, redis, pgVersion, redisVersion } = env0;
  const roles: CpuRoles = env0.roles;

  // 1. The data
  const specs = fleet(opts.series, opts.metrics, opts.seed);
  const filled = await fill(opts, res, db, dbUrl, specs);

  // 2. The system, warmed by the real warm job
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'main.js'))) {
    progress('dist/ is missing: npm run build');
    const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (built.status !== 0) throw new Error(`npm run build failed (${built.status})`);
  }
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(envSchema.shape)) delete env[name];
  Object.assign(env, {
    DATABASE_URL: dbUrl,
    REDIS_URL: opts.redisUrl,
    PULSE_PREFIX: prefix,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SAMPLERS: 'none',
    ADMIN_TOKEN: adminToken,
    CACHE_TTL,
  });
  progress(`starting node dist/src/main.js api (port ${port})`);
  const api = startChild(res, 'api', ['dist/src/main.js', 'api'], env, 'pipe');
  roles.api = api.pid;
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/readyz`, api, (r) => r.status === 200, 'GET /readyz answering 200');

  progress('warm job: summaries, series, every trend (as the worker runs it)');
  const cache = new DashboardCache(redis, keysFor(prefix), quiet);
  // The API's defaults (its environment sets no limits).
  const defaults = loadConfig({}).sampling;
  const limits = {
    memoryPercent: defaults.criticalMemoryPercent,
    cpuPercent: defaults.criticalCpuPercent,
  };
  const warmed = await warm(
    { db, cache, log: quiet, limits, ttlMs: CACHE_TTL_MS },
    { reason: 'manual' },
  );
  progress(`warm job: ${warmed.entries} entries in ${fixed(warmed.ms / 1_000, 1)} s`);

  const trendMetric = specs[0]?.def.metricName as string;
  const first = async (urlPath: string) => {
    const r = await fetch(`${base}${urlPath}`);
    const body = await r.text();
    if (r.status !== 200) throw new Error(`GET ${urlPath}: ${r.status} ${body.slice(0, 300)}`);
    const served = (JSON.parse(body) as { served_from: string }).served_from;
    if (served === 'computed')
      throw new Error(`GET ${urlPath} was computed: the warm job missed it`);
    return {
      body,
      served,
      etag: r.headers.get('etag') ?? '"x"',
      cacheControl: r.headers.get('cache-control') ?? 'public, max-age=60',
      lastModified: r.headers.get('last-modified') ?? new Date().toUTCString(),
    };
  };
  const summaryFirst = await first(SUMMARY_PATH);
  const trendFirst = await first(trendPath(trendMetric));
  const summaryParsed = JSON.parse(summaryFirst.body) as { metrics: unknown[] };
  const trendParsed = JSON.parse(trendFirst.body) as { points: unknown[] };
  progress(
    `summary 24h: ${int(Buffer.byteLength(summaryFirst.body))} B, ${summaryParsed.metrics.length} metrics (served from ${summaryFirst.served}); time-series ${trendMetric} 7d/1h: ${int(Buffer.byteLength(trendFirst.body))} B, ${trendParsed.points.length} points`,
  );

  // 3. The baseline, answering the same bodies
  const baselineRoutes: BaselineRoute[] = [
    { path: '/summary', ...summaryFirst },
    { path: '/trend', ...trendFirst },
  ].map((r) => ({
    path: r.path,
    body: r.body,
    etag: r.etag,
    cacheControl: r.cacheControl,
    lastModified: r.lastModified,
  }));
  const baseline = await startBaseline(res, baselineRoutes);
  roles.baseline = baseline.pid;
  const baselineBase = `http://127.0.0.1:${baseline.port}`;
  await waitFor(
    `${baselineBase}/summary`,
    baseline,
    (r) => r.status === 200,
    'the baseline answering',
  );

  // 4. Load runs: baseline and API alternately, same bodies, same load generator
  const summaryBytes = Buffer.byteLength(summaryFirst.body);
  const trendBytes = Buffer.byteLength(trendFirst.body);
  const c = opts.connections;
  const load = {
    summaryBaseline: await loadRun(
      'bare Express, summary body',
      'baseline',
      baselineBase,
      '/summary',
      summaryBytes,
      c,
      opts.durationS,
      opts.warmupS,
      roles,
    ),
    summaryApi: await loadRun(
      'API summary 24h (warm)',
      'api',
      base,
      SUMMARY_PATH,
      summaryBytes,
      c,
      opts.durationS,
      opts.warmupS,
      roles,
    ),
    trendBaseline: await loadRun(
      'bare Express, time-series body',
      'baseline',
      baselineBase,
      '/trend',
      trendBytes,
      c,
      opts.durationS,
      opts.warmupS,
      roles,
    ),
    trendApi: await loadRun(
      'API time-series 7d/1h (warm)',
      'api',
      base,
      trendPath(trendMetric),
      trendBytes,
      c,
      opts.durationS,
      opts.warmupS,
      roles,
    ),
  };
  const unloadedS = Math.min(UNLOADED_SECONDS_MAX, opts.durationS);
  const unloadedWarmup = Math.min(1, opts.warmupS);
  const unloaded = {
    summaryBaseline: await loadRun(
      'bare Express, summary body',
      'baseline',
      baselineBase,
      '/summary',
      summaryBytes,
      1,
      unloadedS,
      unloadedWarmup,
      roles,
    ),
    summaryApi: await loadRun(
      'API summary 24h (warm)',
      'api',
      base,
      SUMMARY_PATH,
      summaryBytes,
      1,
      unloadedS,
      unloadedWarmup,
      roles,
    ),
    trendApi: await loadRun(
      'API time-series 7d/1h (warm)',
      'api',
      base,
      trendPath(trendMetric),
      trendBytes,
      1,
      unloadedS,
      unloadedWarmup,
      roles,
    ),
  };
  await stopNamed(res, baseline);
  delete roles.baseline;

  // 5. On request: the plan's SQL over the raw points, and the API on cache misses
  const plan = await planSql(dbUrl, res, opts.sqlRuns, roles);
  progress(`summary 24h on a miss: ${opts.missRuns} runs`);
  const summaryMiss = await misses(
    base,
    adminToken,
    Array.from({ length: opts.missRuns + MISS_UNTIMED }, () => ({
      name: cacheName.summary('24h'),
      path: SUMMARY_PATH,
    })),
    MISS_UNTIMED,
  );
  progress(`summary 24h on a miss: median ${ms(summaryMiss.medianMs)} ms`);
  // Each run another metric (as dashboards open them), the first one included.
  const metricNames = [...new Set(specs.map((s) => s.def.metricName))];
  const trendMissMetrics = Array.from(
    { length: opts.missRuns + MISS_UNTIMED },
    (_, i) => metricNames[i % metricNames.length] as string,
  );
  const trendMiss = await misses(
    base,
    adminToken,
    trendMissMetrics.map((m) => ({ name: cacheName.trend(m, '7d', '1h', {}), path: trendPath(m) })),
    MISS_UNTIMED,
  );
  progress(`time-series 7d/1h on a miss: median ${ms(trendMiss.medianMs)} ms`);
  const summary7dMiss = await misses(
    base,
    adminToken,
    Array.from({ length: opts.missRuns + MISS_UNTIMED }, () => ({
      name: cacheName.summary('7d'),
      path: SUMMARY_7D_PATH,
    })),
    MISS_UNTIMED,
  );
  progress(`summary 7d on a miss: median ${ms(summary7dMiss.medianMs)} ms`);
  const trend24hMiss = await misses(
    base,
    adminToken,
    trendMissMetrics.map((m) => ({
      name: cacheName.trend(m, '24h', '5m', {}),
      path: trend24hPath(m),
    })),
    MISS_UNTIMED,
  );
  progress(`time-series 24h/5m on a miss: median ${ms(trend24hMiss.medianMs)} ms`);

  checkRunning(api, 'during the run');
  const apiExit = await stopNamed(res, api);
  delete roles.api;

  // 6. Live: worker + api on their defaults under steady ingest, a dashboard polling everything
  const livePrefix = `${prefix}-live`;
  res.prefixes.push(livePrefix);
  const live =
    opts.liveMinutes > 0
      ? await liveRun(res, {
          dbUrl,
          redisUrl: opts.redisUrl,
          prefix: livePrefix,
          minutes: opts.liveMinutes,
          pointsPerSec: LIVE_POINTS_PER_SEC,
          series: specs.map((sp) => sp.def),
          metrics: metricNames,
        })
      : null;

  // 7. Scale: 1 day of --scale-series series against 1 day of --series, the same measures
  const scale = opts.scaleSeries > 0 ? await scaleCase(opts, res, db, dbUrl, quiet, limits) : null;

  // Goals and report
  const throughputRatio = load.summaryApi.reqPerSec / load.summaryBaseline.reqPerSec;
  const p99Ratio = load.summaryApi.latency.p99 / load.summaryBaseline.latency.p99;
  const rawRatio = plan.medianMs / unloaded.summaryApi.latency.p50;
  const rawRatioLoaded = plan.medianMs / load.summaryApi.latency.p50;
  const goals: Record<'throughputRatio' | 'p99Ratio' | 'rawSqlRatio', Goal> = {
    throughputRatio: {
      name: 'summary 24h warm: req/s ÷ bare Express req/s',
      target: `≥ ${fixed(GOALS.throughputRatio, 2)}`,
      actual: throughputRatio,
      pass: throughputRatio >= GOALS.throughputRatio,
    },
    p99Ratio: {
      name: 'summary 24h warm: p99 ÷ bare Express p99',
      target: `≤ ${fixed(GOALS.p99Ratio, 2)}`,
      actual: p99Ratio,
      pass: p99Ratio <= GOALS.p99Ratio,
    },
    rawSqlRatio: {
      name: "plan's SQL on raw points (median) ÷ warm summary p50 (1 connection)",
      target: `≥ ${int(GOALS.rawSqlRatio)}×`,
      actual: rawRatio,
      pass: rawRatio >= GOALS.rawSqlRatio,
    },
  };
  const planOverMiss = plan.medianMs / summaryMiss.medianMs;
  const goal = (name: string, target: string, actual: number, pass: boolean): Goal => ({
    name,
    target,
    actual,
    pass,
  });
  const missGoals: Goal[] = [
    goal(
      'summary 24h on a miss, median ms',
      `≤ ${GOALS.summary24hMissMs}`,
      summaryMiss.medianMs,
      summaryMiss.medianMs <= GOALS.summary24hMissMs,
    ),
    goal(
      'summary 7d on a miss, median ms',
      `≤ ${GOALS.summary7dMissMs}`,
      summary7dMiss.medianMs,
      summary7dMiss.medianMs <= GOALS.summary7dMissMs,
    ),
    goal(
      "plan's SQL on raw points ÷ summary 24h on a miss",
      `≥ ${GOALS.planOverMiss}×`,
      planOverMiss,
      planOverMiss >= GOALS.planOverMiss,
    ),
    goal(
      'time-series 7d/1h on a miss, median ms (HTTP)',
      `≤ ${GOALS.trendMissMs}`,
      trendMiss.medianMs,
      trendMiss.medianMs <= GOALS.trendMissMs,
    ),
    goal(
      'time-series 24h/5m on a miss, median ms (HTTP)',
      `≤ ${GOALS.trendMissMs}`,
      trend24hMiss.medianMs,
      trend24hMiss.medianMs <= GOALS.trendMissMs,
    ),
    goal(
      `warm pass (${warmed.entries} entries), s`,
      `≤ ${GOALS.warmPassS}`,
      warmed.ms / 1_000,
      warmed.ms / 1_000 <= GOALS.warmPassS,
    ),
  ];
  if (live)
    missGoals.push(
      goal(
        `live: answers computed on a miss after the first warm pass (${int(live.requests)} requests in ${live.minutes} min)`,
        `= ${GOALS.liveMisses}`,
        live.missesAfterFirstPass,
        live.missesAfterFirstPass === GOALS.liveMisses,
      ),
    );
  const growth = scale
    ? {
        series: scale.large.series / scale.small.series,
        summary: scale.large.summary24hMissMs / scale.small.summary24hMissMs,
        trend24h: scale.large.trend24hMissMs / scale.small.trend24hMissMs,
        trend7d: scale.large.trend7dMissMs / scale.small.trend7dMissMs,
        warm: scale.large.warmPassS / scale.small.warmPassS,
      }
    : null;
  if (scale && growth)
    missGoals.push(
      goal(
        `summary 24h on a miss at ${int(scale.large.series)} series × 1 day, ms`,
        `≤ ${GOALS.scaleSummaryMissMs}`,
        scale.large.summary24hMissMs,
        scale.large.summary24hMissMs <= GOALS.scaleSummaryMissMs,
      ),
      goal(
        `warm pass at ${int(scale.large.series)} series × 1 day, s`,
        `≤ ${GOALS.scaleWarmPassS}`,
        scale.large.warmPassS,
        scale.large.warmPassS <= GOALS.scaleWarmPassS,
      ),
      goal(
        `growth of the summary miss from ${int(scale.small.series)} to ${int(scale.large.series)} series`,
        `≤ ${fixed(growth.series, 0)}× (linear)`,
        growth.summary,
        growth.summary <= growth.series,
      ),
      goal(
        `growth of the warm pass from ${int(scale.small.series)} to ${int(scale.large.series)} series`,
        `≤ ${fixed(growth.series, 0)}× (linear)`,
        growth.warm,
        growth.warm <= growth.series,
      ),
    );
  const goalList = [...Object.values(goals), ...missGoals];
  const verdict = (g: Goal) => (g.pass ? 'pass' : 'FAIL');
  const fleetTable = {
    header: ['Goal', 'Measured', 'Target', 'Result'],
    right: [1],
    rows: missGoals.map((g) => [g.name, fixed(g.actual, 2), g.target, verdict(g)]),
  };
  const scaleTable = scale &&
    growth && {
      header: [
        '1 day of data, computed in process (no HTTP)',
        int(scale.small.series),
        int(scale.large.series),
        'Growth',
      ],
      right: [1, 2, 3],
      rows: [
        ['Points', int(scale.small.points), int(scale.large.points), times(growth.series)],
        [
          'Summary 24h on a miss, median ms',
          ms(scale.small.summary24hMissMs),
          ms(scale.large.summary24hMissMs),
          times(growth.summary),
        ],
        [
          'Time-series 24h/5m on a miss, median ms',
          ms(scale.small.trend24hMissMs),
          ms(scale.large.trend24hMissMs),
          times(growth.trend24h),
        ],
        [
          'Time-series 7d/1h on a miss, median ms',
          ms(scale.small.trend7dMissMs),
          ms(scale.large.trend7dMissMs),
          times(growth.trend7d),
        ],
        [
          `Warm pass (${scale.large.warmEntries} entries), s`,
          fixed(scale.small.warmPassS, 2),
          fixed(scale.large.warmPassS, 2),
          times(growth.warm),
        ],
      ],
    };
  const liveLine = live
    ? `Live run: ${live.minutes} min of a worker and an api process on their defaults (CACHE_TTL 60 s, WARM_INTERVAL 10 s) under ${int(live.ingestPointsPerSec)} points/s over HTTP, a dashboard polling all ${int(live.requests / Math.max(1, live.polls))} standard entries every 10 s: ${int(live.requests)} requests, ${live.missesAfterFirstPass} computed on a miss after the first warm pass (pulse_cache_lookups_total{result="miss"} ${live.lookupsMiss}); ${live.warmPasses} warm passes, median ${fixed(live.warmPassMs.median / 1_000, 2)} s, longest ${fixed(live.warmPassMs.max / 1_000, 2)} s; request p50 ${ms(live.requestMs.p50)} ms, p99 ${ms(live.requestMs.p99)} ms.`
    : 'Live run skipped (--live-minutes 0).';

  const main = {
    header: ['Measure', 'Measured', 'Against', 'Ratio', 'Goal', 'Result'],
    right: [1, 2, 3],
    rows: [
      [
        `Summary 24h warm, req/s (against: bare Express, same ${int(summaryBytes)} B body)`,
        int(load.summaryApi.reqPerSec),
        int(load.summaryBaseline.reqPerSec),
        fixed(throughputRatio, 2),
        goals.throughputRatio.target,
        verdict(goals.throughputRatio),
      ],
      [
        'Summary 24h warm, p99 ms (against: bare Express)',
        ms(load.summaryApi.latency.p99),
        ms(load.summaryBaseline.latency.p99),
        fixed(p99Ratio, 2),
        goals.p99Ratio.target,
        verdict(goals.p99Ratio),
      ],
      [
        'Summary 24h warm, p50 ms (against: bare Express)',
        ms(load.summaryApi.latency.p50),
        ms(load.summaryBaseline.latency.p50),
        fixed(load.summaryApi.latency.p50 / load.summaryBaseline.latency.p50, 2),
        '—',
        'info',
      ],
      [
        "Summary 24h: plan's SQL on raw points, median ms (against: warm API p50, 1 connection)",
        ms(plan.medianMs),
        ms(unloaded.summaryApi.latency.p50),
        times(rawRatio),
        goals.rawSqlRatio.target,
        verdict(goals.rawSqlRatio),
      ],
      [
        `Same, against the warm API p50 at ${c} connections`,
        ms(plan.medianMs),
        ms(load.summaryApi.latency.p50),
        times(rawRatioLoaded),
        '—',
        'info',
      ],
      [
        'Summary 24h on a miss (from the rollups), median ms (against: warm, 1 connection)',
        ms(summaryMiss.medianMs),
        ms(unloaded.summaryApi.latency.p50),
        times(summaryMiss.medianMs / unloaded.summaryApi.latency.p50),
        '—',
        'info',
      ],
      [
        `Time-series 7d/1h from cache, req/s (against: bare Express, same ${int(trendBytes)} B body)`,
        int(load.trendApi.reqPerSec),
        int(load.trendBaseline.reqPerSec),
        fixed(load.trendApi.reqPerSec / load.trendBaseline.reqPerSec, 2),
        '—',
        'info',
      ],
      [
        'Time-series 7d/1h from cache, p50 / p99 ms (against: bare Express)',
        `${ms(load.trendApi.latency.p50)} / ${ms(load.trendApi.latency.p99)}`,
        `${ms(load.trendBaseline.latency.p50)} / ${ms(load.trendBaseline.latency.p99)}`,
        fixed(load.trendApi.latency.p99 / load.trendBaseline.latency.p99, 2),
        '—',
        'info',
      ],
      [
        'Time-series 7d/1h on a miss, median ms (against: from cache, 1 connection)',
        ms(trendMiss.medianMs),
        ms(unloaded.trendApi.latency.p50),
        times(trendMiss.medianMs / unloaded.trendApi.latency.p50),
        '—',
        'info',
      ],
    ],
  };
  const runRow = (r: LoadRun) => [
    r.label,
    int(r.connections),
    int(r.requests),
    int(r.reqPerSec),
    ms(r.latency.p50),
    ms(r.latency.p90),
    ms(r.latency.p99),
    ms(r.latency.max),
    int(r.responseBytes),
  ];
  const runs = {
    header: [
      'Load run',
      'Conns',
      'Requests',
      'Req/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'Max ms',
      'Bytes/answer',
    ],
    right: [1, 2, 3, 4, 5, 6, 7, 8],
    rows: [...Object.values(load), ...Object.values(unloaded)].map(runRow),
  };
  const onRequest = {
    header: ['On request', 'Runs', 'Median ms', 'Min ms', 'Max ms'],
    right: [1, 2, 3, 4],
    rows: [
      { label: `Plan's SQL on raw points, 24h (${int(plan.rowsScanned)} rows)`, t: plan as Timed },
      { label: 'Summary 24h, cache miss (API, from the rollups)', t: summaryMiss as Timed },
      { label: 'Summary 7d, cache miss (API, from the rollups)', t: summary7dMiss as Timed },
      {
        label: `Time-series 24h/5m, cache miss (API, ${new Set(trendMissMetrics).size} metrics)`,
        t: trend24hMiss as Timed,
      },
      {
        label: `Time-series 7d/1h, cache miss (API, ${new Set(trendMissMetrics).size} metrics)`,
        t: trendMiss as Timed,
      },
    ].map(({ label, t }) => [
      label,
      int(t.runsMs.length),
      ms(t.medianMs),
      ms(t.minMs),
      ms(t.maxMs),
    ]),
  };
  const cpuRuns: [string, Cores][] = [
    ...[...Object.values(load), ...Object.values(unloaded)].map(
      (r) => [`${r.label}, ${r.connections} conn`, r.cpu] as [string, Cores],
    ),
    ["Plan's SQL on raw points", plan.cpu],
  ];
  const cpu = {
    header: ['CPU (cores used)', 'bench', 'pulse api', 'baseline', 'postgres', 'redis', 'other'],
    right: [1, 2, 3, 4, 5, 6],
    rows: cpuRuns.map(([label, cores]) => [label, ...CPU_GROUPS.map((g) => fixed(cores[g], 2))]),
  };
  const noisy = cpuRuns.some(([, cores]) => cores.other > NOISE_CORES);
  const noiseNote = `Processes outside the benchmark used more than ${NOISE_CORES} cores during a run: the machine was not quiet, so the ratios may be off; run again.`;

  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Number((os.totalmem() / 1_073_741_824).toFixed(1)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: pgVersion,
    redis: redisVersion,
    autocannon: autocannonVersion,
  };
  const date = new Date().toISOString();
  const dataLine = `${int(filled.series)} series (${filled.metrics} metrics, ~${int(filled.series / filled.metrics)} series each), ${int(filled.points)} points over ${opts.days} days at one per series per minute`;
  const fillLine = `Fill ${fixed(filled.totalMs / 1_000, 0)} s: binary COPY ${fixed(filled.copyMs / 1_000, 0)} s, rollup_1m by SQL ${fixed(filled.rollup1mMs / 1_000, 0)} s, rollup_1h by the aggregate job ${fixed(filled.rollup1hMs / 1_000, 0)} s, metric rollups by the upgrade's rebuild ${fixed(filled.metricMs / 1_000, 0)} s, VACUUM ANALYZE ${fixed(filled.vacuumMs / 1_000, 0)} s; warm job ${fixed(warmed.ms / 1_000, 1)} s (${warmed.entries} entries).`;

  console.log('');
  console.log(`API benchmark — ${dataLine}, ${date}`);
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}, autocannon ${autocannonVersion}`,
  );
  console.log(fillLine);
  console.log('');
  for (const t of [main, fleetTable, ...(scaleTable ? [scaleTable] : []), runs, onRequest, cpu]) {
    console.log(textTable(t.header, t.rows, t.right));
    console.log('');
  }
  console.log(liveLine);
  console.log('');
  if (noisy) console.log(`warning: ${noiseNote}\n`);

  const loadJson = (r: LoadRun) => ({
    path: r.path,
    connections: r.connections,
    seconds: r.seconds,
    requests: r.requests,
    reqPerSec: r.reqPerSec,
    latencyMs: r.latency,
    responseBytes: r.responseBytes,
    bodyBytes: r.bodyBytes,
    errors: r.errors,
    non2xx: r.non2xx,
    timeouts: r.timeouts,
    cpuCores: r.cpu,
    ...(r.cache ? { cache: r.cache } : {}),
  });
  const report = {
    benchmark: 'api',
    date,
    machine,
    options: {
      series: opts.series,
      days: opts.days,
      metrics: opts.metrics,
      connections: opts.connections,
      durationSeconds: opts.durationS,
      warmupSeconds: opts.warmupS,
      unloadedSeconds: unloadedS,
      sqlRuns: opts.sqlRuns,
      missRuns: opts.missRuns,
      seed: opts.seed,
    },
    data: {
      series: filled.series,
      metrics: filled.metrics,
      points: filled.points,
      from: new Date(filled.fromMs).toISOString(),
      to: new Date(filled.toMs).toISOString(),
      rollup1mRows: filled.rollup1mRows,
      rollup1hRows: filled.rollup1hRows,
      sketchesCheckedAgainstKeyOf: filled.sketchChecked,
      sizesMb: filled.sizesMb,
      fillSeconds: {
        total: filled.totalMs / 1_000,
        copy: filled.copyMs / 1_000,
        rollup1m: filled.rollup1mMs / 1_000,
        rollup1h: filled.rollup1hMs / 1_000,
        vacuumAnalyze: filled.vacuumMs / 1_000,
      },
    },
    setup: {
      api: 'node dist/src/main.js api',
      apiEnv: { LOG_LEVEL: 'warn', SAMPLERS: 'none', CACHE_TTL, ADMIN_TOKEN: '(random)' },
      trendMetric,
      summaryBodyBytes: summaryBytes,
      summaryMetrics: summaryParsed.metrics.length,
      trendBodyBytes: trendBytes,
      trendPoints: trendParsed.points.length,
      warmJob: { seconds: warmed.ms / 1_000, entries: warmed.entries },
      planSql: PLAN_SUMMARY_SQL,
      notes: [
        'data: binary COPY into points (2 streams); rollup_1m by INSERT … SELECT … GROUP BY series, minute with sketch keys computed in SQL as keyOf does (a sample is checked against keyOf); every hour marked dirty, rollup_1h built by the aggregate job; metric rollups built from those by rebuildMetricRollups (the code migration 008 runs), one day per transaction; then VACUUM ANALYZE and CHECKPOINT',
        'system: node dist/src/main.js api with LOG_LEVEL=warn, SAMPLERS=none, ADMIN_TOKEN set, CACHE_TTL=1h (no worker re-warms during the run, so entries must outlive it; L1 still holds an entry at most 60 s); config variables from the shell are dropped',
        'warm: the real warm job (src/jobs/warm.ts) run once from the benchmark process on the same Redis prefix, then one GET per answer; every load run checks via GET /cache that it had no cache miss',
        'baseline: a bare Express 5 app (plain JavaScript, same Node) in another child process answering a fixed body: the very bytes of a warm API answer, with its ETag, Cache-Control and Last-Modified and a JSON content type',
        'load: autocannon in the benchmark process on the same cores, pipelining 1, an untimed warm-up before each timed run; latencies are every 2xx response time as autocannon measures it (float ms), percentiles by nearest rank; req/s = 2xx answers ÷ run seconds',
        "plan's SQL: AVG, MAX, MIN and PERCENTILE_CONT(0.95) over the raw rows of the last 24 h, grouped by metric_name, from performance_metrics_ts (points joined to series), on one connection; one untimed run first",
        'misses: POST /api/v1/cache/refresh with the entry name (admin token) before each GET, which then computes from the rollups (served_from computed); the first 3 of each kind are untimed (the API process has never computed such an answer: cold code), then --miss-runs timed; the time-series runs go over several metrics',
        'the raw-SQL goal compares one query with one request on an otherwise idle system (1 connection); the same ratio against the p50 under load is shown for information',
      ],
    },
    noisy,
    results: {
      load: {
        summary: { api: loadJson(load.summaryApi), baseline: loadJson(load.summaryBaseline) },
        timeSeries: { api: loadJson(load.trendApi), baseline: loadJson(load.trendBaseline) },
      },
      unloaded: {
        summary: {
          api: loadJson(unloaded.summaryApi),
          baseline: loadJson(unloaded.summaryBaseline),
        },
        timeSeries: { api: loadJson(unloaded.trendApi) },
      },
      planSql: {
        rowsScanned: plan.rowsScanned,
        metrics: plan.metrics,
        runsMs: plan.runsMs,
        medianMs: plan.medianMs,
        cpuCores: plan.cpu,
      },
      live,
      scale: scale && { ...scale, growth },
      miss: {
        summary24h: { runsMs: summaryMiss.runsMs, medianMs: summaryMiss.medianMs },
        summary7d: { runsMs: summary7dMiss.runsMs, medianMs: summary7dMiss.medianMs },
        timeSeries24h5m: { runsMs: trend24hMiss.runsMs, medianMs: trend24hMiss.medianMs },
        timeSeries7d1h: {
          metrics: trendMissMetrics,
          runsMs: trendMiss.runsMs,
          medianMs: trendMiss.medianMs,
        },
      },
      ratios: {
        summaryThroughput: throughputRatio,
        summaryP99: p99Ratio,
        summaryP50: load.summaryApi.latency.p50 / load.summaryBaseline.latency.p50,
        planSqlToWarmP50Unloaded: rawRatio,
        planSqlToWarmP50Loaded: rawRatioLoaded,
        summaryMissToWarmP50Unloaded: summaryMiss.medianMs / unloaded.summaryApi.latency.p50,
        timeSeriesThroughput: load.trendApi.reqPerSec / load.trendBaseline.reqPerSec,
        timeSeriesP99: load.trendApi.latency.p99 / load.trendBaseline.latency.p99,
        timeSeriesMissToWarmP50Unloaded: trendMiss.medianMs / unloaded.trendApi.latency.p50,
      },
      apiExitCode: apiExit,
    },
    goals: goalList.map((g) => ({
      name: g.name,
      target: g.target,
      actual: g.actual,
      pass: g.pass,
    })),
    pass: goalList.every((g) => g.pass),
  };

  const markdown = [
    '## API',
    '',
    '`npm run bench:api` — the real API (`node dist/src/main.js api`) answering from its warm cache',
    'under autocannon, against a bare Express 5 app answering the same bytes in the same run; the',
    "plan's summary computed on request from the raw points; and both answers on a cache miss.",
    '',
    `Run of ${date}: ${dataLine} on ${machine.cpu}`,
    `(${machine.cores} cores, load generator on the same cores), Node ${machine.node}, PostgreSQL ${machine.postgres},`,
    `Redis ${machine.redis}, autocannon ${autocannonVersion}; ${c} connections for ${opts.durationS} s per load run.`,
    fillLine,
    '',
    markdownTable(main.header, main.rows, main.right),
    '',
    '### Fleet scale: misses, warm passes, a live dashboard under ingest',
    '',
    markdownTable(fleetTable.header, fleetTable.rows, fleetTable.right),
    '',
    ...(scaleTable
      ? [markdownTable(scaleTable.header, scaleTable.rows, scaleTable.right), '']
      : []),
    liveLine,
    '',
    markdownTable(runs.header, runs.rows, runs.right),
    '',
    markdownTable(onRequest.header, onRequest.rows, onRequest.right),
    '',
    'CPU: average cores used during each timed run; *other* is every process outside the benchmark.',
    '',
    markdownTable(cpu.header, cpu.rows, cpu.right),
    '',
    ...(noisy ? [`> ${noiseNote}`, ''] : []),
    'What each row measures: *summary 24h warm* is `GET /api/v1/metrics/summary?time_range=24h`',
    'served from the in-process cache (L1) with the whole middleware stack (request id, logging,',
    'helmet, auth check, parameter checks), against a bare Express handler sending the very same',
    "body with the same kind of headers, both under the same load generator. *Plan's SQL* is the",
    'summary as the plan computes it on each request — AVG, MAX, MIN and PERCENTILE_CONT(0.95) over',
    'the raw rows of the last 24 h grouped by metric — run directly in PostgreSQL, set against one',
    'warm request on an idle system (the goal) and against the p50 under load (info). *On a miss*',
    'the entry is removed with `POST /api/v1/cache/refresh` before each timed GET, which then',
    'computes the answer from the rollups (merged sketches) and stores it; *time-series 7d/1h* is',
    "one metric's trend at 1 h resolution from the cache (load) and, on a miss, over several metrics.",
    '',
  ].join('\n');
  await writeResults(report, markdown);
  console.log(`wrote ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`);
  if (opts.keepDatabase) {
    progress(`keeping database ${database} (${redactUrl(dbUrl)}): drop it when done`);
    res.database = undefined;
  }
  for (const g of goalList.filter((x) => !x.pass))
    console.log(`goal missed: ${g.name}: ${fixed(g.actual, 2)} (goal ${g.target})`);
  return goalList.every((g) => g.pass);
}

void benchMain('bench-api', USAGE, parseOptions, run);
