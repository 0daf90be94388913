// Regression benchmark: `npm run bench:regression -- [--series N] [--days N] [--runs N] [...]`.
//
// In one run, on one throw-away database (pulse_bench_regression_<random>):
//   1. fill      --days of --series series at one point per minute (scripts/bench/fleet.ts),
//                the load-driven metrics quiet at weekends (0.6 of weekday load, blended over
//                the first hours of the day) and three series with a planted step 12 h before
//                the end (two up by 40 %, one throughput down by 40 %);
//   2. pulse     the regression job, in this process, over the whole fleet (every metric and
//                every series of a metric with several): one untimed run, then --runs timed;
//   3. plan      the plan's regression SQL (baseline and recent averages and p95 per metric)
//                over the raw points, same windows: one untimed run, then --sql-runs timed;
//   4. scale     the same with --scale-series series (default 10,000; 0 skips it), to show how
//                a run grows with the fleet.
// Each case also checks what the run found: the planted series CRITICAL, nothing else WARNING
// or CRITICAL. Results: a table on stdout, bench/results/regression.json and the regression
// section of bench/RESULTS.md. Progress goes to stderr. The database is dropped at the end,
// also on failure or Ctrl-C.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import type { Db } from '../src/infra/db.js';
import { regression, type RegressionConfig, type RegressionRun } from '../src/jobs/regression.js';
import { fill, fleet, fleetSize, FLEET_OPTIONS, METRICS, type SeriesSpec } from './bench/fleet.js';
import { benchMain, openEnv, progress, redactUrl, type Resources } from './bench/env.js';
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
import { HOUR, DAY } from '../src/infra/time.js';

const RESULTS_JSON = path.join(ROOT, 'bench', 'results', 'regression.json');
const GOALS = { runS: 5 };

/** Metrics that follow the fleet's load, and so its working week. */
const WEEKLY = new Set([
  'cpu_usage_percentage',
  'event_loop_utilization_percentage',
  'http_requests_per_second',
  'network_rx_bytes_per_second',
  'network_tx_bytes_per_second',
  'load_average_1m',
  'worker_jobs_per_second',
  'queue_completed_per_minute',
  'active_requests_count',
]);
const WEEKEND_LEVEL = 0.6;
const WEEKEND_BLEND_MS = 3 * HOUR;
/** Throughputs: their drop is the regression (added to the default list, as a user would). */
const LOWER_IS_WORSE = ['http_requests_per_second', 'worker_jobs_per_second', 'cache_hit_ratio'];
/** Planted steps: series index (of a 32-metric fleet), factor. */
const PLANTED = [
  { metric: 'db_query_duration_ms', host: 3, factor: 1.4 },
  { metric: 'event_loop_lag_ms', host: 11, factor: 1.4 },
  { metric: 'http_requests_per_second', host: 19, factor: 0.6 },
];
const STEP_BEFORE_END_MS = 12 * HOUR;

// The plan's regression query, on the raw rows (its table shape is the performance_metrics_ts
// view) instead of its continuous aggregate, with the run's end as $1 instead of NOW().
const PLAN_REGRESSION_SQL = `WITH baseline_metrics AS (
  SELECT metric_name,
         AVG(metric_value) AS baseline_avg,
         PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY metric_value) AS baseline_p95
  FROM performance_metrics_ts
  WHERE "timestamp" BETWEEN $1::timestamptz - INTERVAL '7 days' AND $1::timestamptz - INTERVAL '1 day'
  GROUP BY metric_name
), recent_metrics AS (
  SELECT metric_name,
         AVG(metric_value) AS recent_avg,
         PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY metric_value) AS recent_p95
  FROM performance_metrics_ts
  WHERE "timestamp" >= $1::timestamptz - INTERVAL '1 day'
  GROUP BY metric_name
)
SELECT rm.metric_name, bm.baseline_avg, rm.recent_avg,
       ((rm.recent_avg - bm.baseline_avg) / NULLIF(bm.baseline_avg, 0) * 100) AS avg_change_percent,
       ((rm.recent_p95 - bm.baseline_p95) / NULLIF(bm.baseline_p95, 0) * 100) AS p95_change_percent
FROM recent_metrics rm
JOIN baseline_metrics bm ON rm.metric_name = bm.metric_name
ORDER BY avg_change_percent DESC`;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  series: number;
  days: number;
  metrics: number;
  runs: number;
  sqlRuns: number;
  scaleSeries: number;
  scaleDays: number;
  keepDatabase: boolean;
  databaseUrl: string;
  redisUrl: string;
  seed: number;
  failOnGoal: boolean;
}

const USAGE = `usage: node --import tsx scripts/bench-regression.ts [options]
  --series N            series to store (default 1000), spread over --metrics metric names
  --days N              days of history, one point per series per minute (default 7, at least 3)
  --metrics N           metric names (default ${METRICS.length}, at most ${METRICS.length})
  --runs N              timed regression runs after one untimed (default 3)
  --sql-runs N          timed runs of the plan's SQL after one untimed (default 3)
  --scale-series N      also measure N series and --series series over --scale-days days,
                        to show how a run grows with the fleet (default 10000; 0 skips it)
  --scale-days N        days of the scale cases (default 2: a 1-day baseline)
  --keep-database       leave the benchmark database in place at the end (to look at it)
${DATABASE_URL_USAGE}
  --redis-url URL       Redis (checked only; the run writes no cache)
${COMMON_USAGE}`;

function parseOptions(argv: string[]): Options {
  const values = parseBenchArgs(
    argv,
    {
      ...FLEET_OPTIONS,
      runs: { type: 'string' },
      'sql-runs': { type: 'string' },
      'scale-series': { type: 'string' },
      'scale-days': { type: 'string' },
      'keep-database': { type: 'boolean' },
    },
    USAGE,
  );
  return {
    ...fleetSize(values, { metrics: METRICS.length, minDays: 3 }),
    runs: wholeOption(values.runs, 3, 'runs', 1, 100),
    sqlRuns: wholeOption(values['sql-runs'], 3, 'sql-runs', 1, 100),
    scaleSeries: wholeOption(values['scale-series'], 10_000, 'scale-series', 0, 100_000),
    scaleDays: wholeOption(values['scale-days'], 2, 'scale-days', 2, 90),
    keepDatabase: values['keep-database'] === true,
    ...commonOptions(values, 2 ** 31),
  };
}

// ---------------------------------------------------------------------------------------------
// The fleet: scripts/bench/fleet.ts's, with a working week and planted steps

/** 1 on working days, WEEKEND_LEVEL on Saturday and Sunday, blended after midnight (UTC). */
function weekly(ts: number): number {
  const level = (day: number) => {
    const weekday = (day + 4) % 7; // 1970-01-01 was a Thursday (4)
    return weekday === 0 || weekday === 6 ? WEEKEND_LEVEL : 1;
  };
  const day = Math.floor(ts / DAY);
  const into = ts - day * DAY;
  const cur = level(day);
  if (into >= WEEKEND_BLEND_MS) return cur;
  const f = into / WEEKEND_BLEND_MS;
  return level(day - 1) + (cur - level(day - 1)) * f;
}

interface Planted {
  index: number;
  metric: string;
  hostname: string;
  factor: number;
}

function shapedFleet(
  opts: Options,
  seriesCount: number,
  endMs: number,
): { specs: SeriesSpec[]; planted: Planted[] } {
  const specs = fleet(seriesCount, opts.metrics, opts.seed);
  const stepAt = endMs - STEP_BEFORE_END_MS;
  const planted: Planted[] = [];
  for (const p of PLANTED) {
    const m = specs.findIndex((s) => s.metric.name === p.metric);
    const index = m + p.host * opts.metrics;
    if (m < 0 || index >= specs.length) continue;
    planted.push({
      index,
      metric: p.metric,
      hostname: (specs[index] as SeriesSpec).def.tags.hostname as string,
      factor: p.factor,
    });
  }
  specs.forEach((s, i) => {
    const step = planted.find((p) => p.index === i)?.factor;
    const week = WEEKLY.has(s.metric.name);
    if (!week && step === undefined) return;
    s.factor = (ts) => (week ? weekly(ts) : 1) * (step !== undefined && ts >= stepAt ? step : 1);
  });
  return { specs, planted };
}

/** The last Wednesday 18:00 UTC at or before `now`. */
function lastWednesdayEvening(now: number): number {
  const day = Math.floor(now / DAY);
  for (let d = day; ; d--) {
    const t = d * DAY + 18 * HOUR;
    if ((d + 4) % 7 === 3 && t <= now) return t;
  }
}

// ---------------------------------------------------------------------------------------------
// The runs

interface Verdict {
  plantedFound: number;
  planted: number;
  /** WARNING or CRITICAL entries that are not a planted series (nor the metric holding one). */
  falseAlarms: string[];
  analysed: number;
  listed: number;
  critical: number;
  warning: number;
}

function verdict(run: RegressionRun, planted: Planted[]): Verdict {
  const flagged = run.entries.filter((e) => e.regression_severity !== 'NORMAL');
  const isPlanted = (hostname: string | undefined, metric: string) =>
    planted.some((p) => p.metric === metric && p.hostname === hostname);
  const plantedFound = planted.filter((p) =>
    flagged.some(
      (e) =>
        e.regression_severity === 'CRITICAL' &&
        e.metric_name === p.metric &&
        e.series?.tags.hostname === p.hostname,
    ),
  ).length;
  const falseAlarms = flagged
    .filter((e) =>
      e.series === null
        ? !planted.some((p) => p.metric === e.metric_name)
        : !isPlanted(e.series.tags.hostname, e.metric_name),
    )
    .map(
      (e) =>
        `${e.regression_severity} ${e.metric_name} ${e.series?.tags.hostname ?? '(all)'} ${fixed(e.shift_percent ?? 0, 1)} %`,
    );
  return {
    plantedFound,
    planted: planted.length,
    falseAlarms,
    analysed: run.analysed,
    listed: run.listed,
    critical: run.counts.CRITICAL,
    warning: run.counts.WARNING,
  };
}

interface Timed {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runsMs: number[];
}

function timed(runsMs: number[]): Timed {
  const sorted = [...runsMs].sort((a, b) => a - b);
  return {
    medianMs: percentile(sorted, 50),
    minMs: sorted[0] as number,
    maxMs: sorted[sorted.length - 1] as number,
    runsMs,
  };
}

async function pulseRuns(
  db: Db,
  config: RegressionConfig,
  endMs: number,
  runs: number,
  label: string,
): Promise<{ timing: Timed; last: RegressionRun; phases: RegressionRun['ms'] }> {
  const log = pino({ level: 'warn' }, pino.destination(2));
  const once = () => regression({ db, log, config, now: () => endMs }, { reason: 'manual' });
  progress(`${label}: regression run, one untimed then ${runs} timed`);
  let last = await once();
  const runsMs: number[] = [];
  const phases: RegressionRun['ms'][] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    last = await once();
    runsMs.push(performance.now() - t);
    phases.push(last.ms);
    progress(
      `${label}: run ${i + 1}: ${fixed(runsMs[i] as number, 0)} ms (read ${fixed(last.ms.read, 0)}, analyse ${fixed(last.ms.analyse, 0)}, store ${fixed(last.ms.store, 0)})`,
    );
  }
  const mid = phases[runsMs.indexOf(timed(runsMs).medianMs)] ?? last.ms;
  return { timing: timed(runsMs), last, phases: mid };
}

async function planRuns(
  dbUrl: string,
  res: Resources,
  endMs: number,
  runs: number,
  untimed: boolean,
  label: string,
): Promise<Timed & { rows: number }> {
  const client = new pg.Client({ connectionString: dbUrl, application_name: 'pulse-bench-plan' });
  res.clients.push(client);
  await client.connect();
  try {
    progress(`${label}: the plan's SQL, ${untimed ? 'one untimed then ' : ''}${runs} timed`);
    const end = new Date(endMs);
    if (untimed) await client.query(PLAN_REGRESSION_SQL, [end]);
    const runsMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await client.query(PLAN_REGRESSION_SQL, [end]);
      runsMs.push(performance.now() - t);
    }
    const scanned = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM points WHERE ts >= $1::timestamptz - interval '7 days'`,
      [end],
    );
    return { ...timed(runsMs), rows: scanned.rows[0]?.n ?? 0 };
  } finally {
    await client.end();
    res.clients = res.clients.filter((c) => c !== client);
  }
}

interface Case {
  series: number;
  days: number;
  metrics: number;
  points: number;
  fillS: number;
  pulse: Timed;
  phases: RegressionRun['ms'];
  plan: Timed & { rows: number };
  verdict: Verdict;
}

async function measure(
  opts: Options,
  res: Resources,
  db: Db,
  dbUrl: string,
  seriesCount: number,
  days: number,
  endMs: number,
): Promise<Case> {
  const label = `${int(seriesCount)} series × ${days} days`;
  const base = loadConfig({}).regression;
  const config: RegressionConfig = {
    ...base,
    baselineMs: Math.min(7, days) * DAY,
    minSegmentMinutes: 60,
    lowerIsWorse: [...base.lowerIsWorse, ...LOWER_IS_WORSE],
  };
  await db.none(
    'TRUNCATE points, rollup_1m, rollup_1h, rollup_dirty_hours, metric_rollup, metric_rollup_partial, series, metrics, regression_reports, regression_runs, regressions RESTART IDENTITY',
  );
  const { specs, planted } = shapedFleet(opts, seriesCount, endMs);
  const filled = await fill(
    { days, metrics: opts.metrics, seed: opts.seed, endMs },
    res,
    db,
    dbUrl,
    specs,
  );
  const pulse = await pulseRuns(db, config, endMs, opts.runs, label);
  // At scale the plan's SQL runs once (a run over tens of millions of rows takes minutes).
  const scale = seriesCount !== opts.series || days !== opts.days;
  const plan = await planRuns(dbUrl, res, endMs, scale ? 1 : opts.sqlRuns, !scale, label);
  const v = verdict(pulse.last, planted);
  progress(
    `${label}: pulse ${fixed(pulse.timing.medianMs / 1_000, 2)} s, plan's SQL ${fixed(plan.medianMs / 1_000, 2)} s; planted found ${v.plantedFound}/${v.planted}, other alarms ${v.falseAlarms.length}`,
  );
  return {
    series: seriesCount,
    days,
    metrics: opts.metrics,
    points: filled.points,
    fillS: filled.totalMs / 1_000,
    pulse: pulse.timing,
    phases: pulse.phases,
    plan,
    verdict: v,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const s2 = (ms: number) => fixed(ms / 1_000, 2);

async function run(opts: Options, res: Resources): Promise<boolean> {
  const database = `pulse_bench_regression_${randomBytes(4).toString('hex')}`;
  res.prefixes.push(`pulse-bench-regression-${randomBytes(3).toString('hex')}`);
  const quiet = pino({ level: 'warn' }, pino.destination(2));
  const env = await openEnv(opts, res, database, quiet);
  if (opts.keepDatabase) res.database = undefined;
  // The data ends on a Wednesday evening (the last before now): the week's baseline holds a
  // weekend, and the scale cases' short windows hold working days only, whatever the day the
  // benchmark runs.
  const endMs = lastWednesdayEvening(Date.now());
  const cases = [await measure(opts, res, env.db, env.dbUrl, opts.series, opts.days, endMs)];
  if (opts.scaleSeries > 0) {
    cases.push(await measure(opts, res, env.db, env.dbUrl, opts.series, opts.scaleDays, endMs));
    cases.push(
      await measure(opts, res, env.db, env.dbUrl, opts.scaleSeries, opts.scaleDays, endMs),
    );
  }

  const main = cases[0] as Case;
  const goals = [
    {
      name: `whole run, ${int(main.series)} series × ${opts.days} days`,
      goal: `≤ ${GOALS.runS} s`,
      value: `${s2(main.pulse.medianMs)} s`,
      passed: main.pulse.medianMs <= GOALS.runS * 1_000,
    },
    ...cases.map((c) => ({
      name: `planted steps CRITICAL, ${int(c.series)} series × ${c.days} days`,
      goal: `${c.verdict.planted} of ${c.verdict.planted}`,
      value: `${c.verdict.plantedFound} of ${c.verdict.planted}`,
      passed: c.verdict.plantedFound === c.verdict.planted,
    })),
    ...cases.map((c) => ({
      name: `other WARNING or CRITICAL entries, ${int(c.series)} series × ${c.days} days`,
      goal: '0',
      value: String(c.verdict.falseAlarms.length),
      passed: c.verdict.falseAlarms.length === 0,
    })),
  ];

  const header = [
    'series',
    'days',
    'points',
    'units',
    'pulse run',
    'read',
    'analyse',
    'store',
    "plan's SQL",
    'plan / pulse',
    'listed',
    'CRIT',
    'WARN',
    'planted found',
    'other alarms',
  ];
  const rows = cases.map((c) => [
    int(c.series),
    String(c.days),
    int(c.points),
    int(c.verdict.analysed),
    `${s2(c.pulse.medianMs)} s`,
    `${s2(c.phases.read)} s`,
    `${s2(c.phases.analyse)} s`,
    `${s2(c.phases.store)} s`,
    `${s2(c.plan.medianMs)} s`,
    `${fixed(c.plan.medianMs / c.pulse.medianMs, 1)}×`,
    int(c.verdict.listed),
    int(c.verdict.critical),
    int(c.verdict.warning),
    `${c.verdict.plantedFound} / ${c.verdict.planted}`,
    int(c.verdict.falseAlarms.length),
  ]);
  const right = header.map((_, i) => i);
  const goalRows = goals.map((g) => [g.name, g.goal, g.value, g.passed ? 'met' : 'MISSED']);
  process.stdout.write(
    `\n${textTable(header, rows, right)}\n\n${textTable(['goal', 'target', 'measured', ''], goalRows)}\n`,
  );
  for (const c of cases)
    for (const a of c.verdict.falseAlarms)
      process.stdout.write(`  other alarm (${int(c.series)} series × ${c.days} days): ${a}\n`);

  const [, small, large] = cases;
  const growth =
    small && large
      ? `From ${int(small.series)} to ${int(large.series)} series (${large.days} days) a run grows ${fixed(large.pulse.medianMs / small.pulse.medianMs, 1)}× for a fleet ${fixed(large.series / small.series, 0)}× as large; at ${opts.days} days, ${int(large.series)} series would take about ${s2((large.pulse.medianMs * main.pulse.medianMs) / small.pulse.medianMs)} s (the ${int(large.series)}-series time scaled by what ${opts.days} days cost over ${large.days} at ${int(small.series)} series).`
      : '';
  const markdown = [
    '## Regression detection',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), PostgreSQL ${env.pgVersion}, Node ${process.version}; \`npm run bench:regression\`${process.argv.length > 2 ? ` \`${process.argv.slice(2).join(' ')}\`` : ''}.`,
    '',
    `The fleet: ${opts.metrics} metric names × hosts, one point per series per minute for ${opts.days} days (a daily cycle of ±20 %, ±15 % noise; the load-driven metrics at ${WEEKEND_LEVEL} of weekday load on Saturdays and Sundays), three series with a planted step 12 h before the end (×1.4 twice, a throughput ×0.6); the data ends on a Wednesday at 18:00 UTC, so the week's baseline holds a weekend. The scale rows repeat the case over ${opts.scaleDays} days (a one-day baseline) for ${int(opts.series)} and ${int(opts.scaleSeries)} series; there the plan's SQL runs once. "pulse run" is the whole regression job (every metric and every series of a metric with several; report stored) in the benchmark process, median of ${opts.runs} after one untimed; "plan's SQL" is the plan's regression query (averages and p95 per metric, no series level, no seasonality) over the raw points of the same windows, median of ${opts.sqlRuns}.`,
    '',
    markdownTable(header, rows, right),
    '',
    markdownTable(['goal', 'target', 'measured', ''], goalRows),
    '',
    growth,
  ].join('\n');
  const report = {
    date: new Date().toISOString(),
    options: {
      ...opts,
      databaseUrl: redactUrl(opts.databaseUrl),
      redisUrl: redactUrl(opts.redisUrl),
    },
    cases,
    goals,
  };
  await writeResultFiles(RESULTS_JSON, 'Regression detection', report, markdown, (_k, v) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 100) / 100 : v,
  );
  progress(`results: ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`);
  return goals.every((g) => g.passed);
}

await benchMain('bench:regression', USAGE, parseOptions, run);
