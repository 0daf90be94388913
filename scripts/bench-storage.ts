// Storage benchmark: `npm run bench:storage -- [--series N] [--days N] [--runs N] [--modes …]`.
//
// In one run, on one throw-away database (pulse_bench_storage_<random>), for each way the
// series share timestamps (--modes: tick, agent, series; scripts/bench/storage/fill.ts):
//   1. fill     --days of --series series at one point per minute, by binary COPY into points;
//               VACUUM ANALYZE;
//   2. raw      the exact answers over 24 h of days that packing will take;
//   3. pack     packDays, as the maintenance job runs it with COMPRESS_AFTER 2d, timed; the
//               bytes a point takes before and after;
//   4. compare  the same answers again, and scans through performance_metrics_ts (and of one
//               series through points_all) over a whole raw day (yesterday) and a whole packed
//               day (four days back) in turns, median of --runs after one untimed run each.
// Results (scripts/bench/storage/report.ts): tables on stdout, bench/results/storage.json and
// the Storage section of bench/RESULTS.md. Progress goes to stderr. The database is dropped at
// the end, also on failure or Ctrl-C.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { UsageError } from '../src/infra/usage-error.js';
import { benchMain, openEnv, type Resources } from './bench/env.js';
import { fleet, fleetSize, FLEET_OPTIONS, METRICS } from './bench/fleet.js';
import { insertSeries } from './bench/flush.js';
import * as cli from './bench/options.js';
import { MODES, type Mode } from './bench/storage/fill.js';
import { measureMode, type ModeFigures } from './bench/storage/measure.js';
import {
  goalsOf,
  type Options,
  printReport,
  tablesOf,
  writeResults,
} from './bench/storage/report.js';

const USAGE = `usage: node --import tsx scripts/bench-storage.ts [options]
  --series N            series to store (default 1000), spread over --metrics metric names
  --days N              days of history, one point per series per minute (default 7, at least 5)
  --metrics N           metric names (default 30, at most ${METRICS.length})
  --runs N              timed runs of each scan after one untimed (default 7)
  --modes LIST          ways the series share timestamps, comma-separated (default ${MODES.join(',')})
${cli.DATABASE_URL_USAGE}
  --redis-url URL       Redis (checked only)
${cli.COMMON_USAGE}`;

function parseOptions(argv: string[]): Options {
  const values = cli.parseBenchArgs(
    argv,
    { ...FLEET_OPTIONS, runs: { type: 'string' }, modes: { type: 'string' } },
    USAGE,
  );
  const modes = (values.modes ?? MODES.join(',')).split(',').map((m) => m.trim());
  const unknown = modes.filter((m) => !(MODES as readonly string[]).includes(m));
  if (unknown.length > 0 || modes.length === 0)
    throw new UsageError(
      `--modes: expected some of ${MODES.join(', ')}, got ${unknown.join(', ')}`,
    );
  return {
    ...fleetSize(values, { metrics: 30, minDays: 5 }),
    runs: cli.wholeOption(values.runs, 7, 'runs', 1, 100),
    modes: [...new Set(modes)] as Mode[],
    ...cli.commonOptions(values, 2 ** 31),
  };
}

function reducedSize(o: Options): string[] {
  const r: string[] = [];
  if (o.series !== 1_000) r.push(`${o.series} series, not 1,000 (--series)`);
  if (o.days !== 7) r.push(`${o.days} days, not 7 (--days)`);
  if (o.modes.length !== MODES.length) r.push(`modes ${o.modes.join(', ')} only (--modes)`);
  return r;
}

async function run(opts: Options, res: Resources): Promise<boolean> {
  const database = `pulse_bench_storage_${randomBytes(4).toString('hex')}`;
  const quiet = pino({ level: 'warn' }, pino.destination(2));
  const env = await openEnv(opts, res, database, quiet);
  const specs = fleet(opts.series, opts.metrics, opts.seed);
  const ids = await insertSeries(
    env.db,
    specs.map((s) => s.def),
  );
  const clients = [0, 1].map(
    (i) =>
      new pg.Client({ connectionString: env.dbUrl, application_name: `pulse-bench-fill-${i}` }),
  );
  res.clients.push(...clients);
  await Promise.all(clients.map((c) => c.connect()));
  const nowMs = Date.now();
  const modes: ModeFigures[] = [];
  for (const mode of opts.modes)
    modes.push(await measureMode(env.db, clients, specs, ids, { ...opts, mode, nowMs }));

  const goals = goalsOf(modes);
  const tables = tablesOf(modes, goals);
  printReport(tables);
  await writeResults(opts, env.pgVersion, modes, goals, tables, reducedSize(opts));
  return goals.every((g) => g.pass);
}

await benchMain('bench:storage', USAGE, parseOptions, run);
