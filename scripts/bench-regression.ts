// Regression benchmark: `npm run bench:regression -- [--series N] [--days N] [--runs N] [...]`.
//
// In one run, on one throw-away database (pulse_bench_regression_<random>):
//   1. fill      --days of --series series at one point per minute (scripts/bench/fleet.ts,
//                shaped in scripts/bench/regression/fleet.ts),
//                the load-driven metrics quiet at weekends (0.6 of weekday load, blended over
//                the first hours of the day) and three series with a planted step 12 h before
//                the end (two up by 40 %, one throughput down by 40 %);
//   2. pulse     the regression job, in this process, over the whole fleet (every metric and
//                every series of a metric with several): one untimed run, then --runs timed;
//   3. plan      the plan's regression SQL (baseline and recent averages and p95 per metric)
//                over the raw points, same windows: one untimed run, then --sql-runs timed;
//   4. scale     the same with --scale-series series (default 10,000; 0 skips it), to show how
//                a run grows with the fleet.
// Each case (scripts/bench/regression/case.ts) also checks what the run found: the planted
// series CRITICAL, nothing else WARNING or CRITICAL. Results (scripts/bench/regression/report.ts):
// a table on stdout, bench/results/regression.json and the regression section of
// bench/RESULTS.md. Progress goes to stderr. The database is dropped at the end,
// also on failure or Ctrl-C.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { benchMain, openEnv, type Resources } from './bench/env.js';
import { fleetSize, FLEET_OPTIONS, METRICS } from './bench/fleet.js';
import * as cli from './bench/options.js';
import { measure, type Case, type Options } from './bench/regression/case.js';
import { lastWednesdayEvening } from './bench/regression/fleet.js';
import { goalsOf, printTables, tablesOf, writeResults } from './bench/regression/report.js';

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
${cli.DATABASE_URL_USAGE}
  --redis-url URL       Redis (checked only; the run writes no cache)
${cli.COMMON_USAGE}`;

function parseOptions(argv: string[]): Options {
  const values = cli.parseBenchArgs(
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
    runs: cli.wholeOption(values.runs, 3, 'runs', 1, 100),
    sqlRuns: cli.wholeOption(values['sql-runs'], 3, 'sql-runs', 1, 100),
    scaleSeries: cli.wholeOption(values['scale-series'], 10_000, 'scale-series', 0, 100_000),
    scaleDays: cli.wholeOption(values['scale-days'], 2, 'scale-days', 2, 90),
    keepDatabase: values['keep-database'] === true,
    ...cli.commonOptions(values, 2 ** 31),
  };
}

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
  const cases: Case[] = [
    await measure(opts, res, env.db, env.dbUrl, opts.series, opts.days, endMs),
  ];
  if (opts.scaleSeries > 0) {
    cases.push(await measure(opts, res, env.db, env.dbUrl, opts.series, opts.scaleDays, endMs));
    cases.push(
      await measure(opts, res, env.db, env.dbUrl, opts.scaleSeries, opts.scaleDays, endMs),
    );
  }

  const goals = goalsOf(opts, cases);
  const tables = tablesOf(cases, goals);
  printTables(cases, tables);
  await writeResults(opts, env.pgVersion, cases, goals, tables);
  return goals.every((g) => g.passed);
}

await benchMain('bench:regression', USAGE, parseOptions, run);
