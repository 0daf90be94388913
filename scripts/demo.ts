// npm run demo -- --days 7 [--end ISO] [--seed N] [--hosts 3] [--step 60s]
// Writes realistic demo data for every metric pulse's samplers produce (README, "Sampling"):
// process metrics per role and host, host metrics per host, PostgreSQL, Redis, every queue,
// and scraped node_exporter and app targets, with the samplers' names, units and tags, over the
// last N days at --step, ending now. Daily and weekly cycles, noise, occasional spikes, counters
// that only go up, and exactly one regression about 12 h before the end. It then runs regression
// detection as of the end and prints the report, so the dashboard shows it at once.
//
// Points go through the ingest rules (validateBatch) and PointStore.write in batches of whole
// hours, a few in flight (src/metrics/bulk-writer.ts), so rollup_1m is exact; rollup_1h and the
// regression slots of the closed hours are built from the writes' own minutes. Every value is a
// pure function of (seed, series, timestamp) and timestamps sit on a grid of --step, so a
// second run stores nothing twice: a batch stored already is only checked, and the summary
// counts its points as duplicates.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { createDb } from '../src/infra/db.js';
import { formatDuration } from '../src/infra/duration.js';
import { postgresFor } from '../src/infra/embedded.js';
import { createLogger } from '../src/infra/logger.js';
import { migrate } from '../src/metrics/schema.js';
import { DAY } from '../src/infra/time.js';
import { progressLine } from '../src/infra/progress.js';
import { UsageError } from '../src/infra/usage-error.js';
import { parseDays, parseEnd, parseStep } from '../src/demo/options.js';
import { runDemo } from '../src/demo/run.js';
import { summary } from '../src/demo/summary.js';
import { demoRegression } from '../src/demo/regression.js';
import { WRITES_IN_FLIGHT } from '../src/metrics/bulk-writer.js';
import { table } from './regression.js';

const USAGE = `usage: npm run demo -- --days N [--end ISO] [--seed N] [--hosts N] [--step 60s]
  --days N     days of data ending at --end (default 7; at most 29 with the default retentions)
  --end ISO    when the data ends: an ISO-8601 date-time with a zone, or a date (midnight UTC);
               default now. Not in the future, and not so far back that the first day is
               older than RAW_RETENTION
  --seed N     seed of the data (default 1): the same seed gives the same values
  --hosts N    hosts, each running an api and a worker process (default 3)
  --step D     time between samples (default 60s; whole seconds, 1s to 1h)
Writes to DATABASE_URL, or the embedded PostgreSQL when it is unset, then runs regression
detection as of the end and prints the report (the dashboard's cached report is replaced when
Redis is reachable). Running it again stores nothing twice.`;

function parseCli() {
  return parseArgs({
    options: {
      days: { type: 'string', default: '7' },
      seed: { type: 'string', default: '1' },
      hosts: { type: 'string', default: '3' },
      step: { type: 'string', default: '60s' },
      end: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }).values;
}

interface Settings {
  config: Config;
  days: number;
  stepMs: number;
  seed: number;
  hosts: number;
  end: number;
}

/** The options checked; throws UsageError or ConfigError. */
function settingsOf(values: ReturnType<typeof parseCli>): Settings {
  const config = loadConfig();
  const days = parseDays(values.days, config.retention.acceptMs);
  const clock = Date.now();
  const end =
    values.end === undefined ? clock : parseEnd(values.end, days, config.retention.acceptMs, clock);
  const stepMs = parseStep(values.step);
  const seed = /^-?\d+$/.test(values.seed) ? Number(values.seed) : NaN;
  if (!Number.isSafeInteger(seed))
    throw new UsageError(`--seed ${JSON.stringify(values.seed)}: expected an integer`);
  const hosts = /^\d+$/.test(values.hosts) ? Number(values.hosts) : NaN;
  if (!Number.isSafeInteger(hosts) || hosts < 1 || hosts > 100)
    throw new UsageError(
      `--hosts ${JSON.stringify(values.hosts)}: expected a whole number from 1 to 100`,
    );
  return { config, days, stepMs, seed, hosts, end };
}

/** Writes the demo data, prints the summary, then the regression report as of its end. */
async function demo(s: Settings): Promise<void> {
  const { config, days, stepMs, seed, hosts, end } = s;
  if (days * DAY > config.retention.rollup1mMs)
    process.stderr.write(
      `demo: note: ROLLUP_1M_RETENTION is ${formatDuration(config.retention.rollup1mMs)}; the maintenance job will expire older minute rollups (rollup_1h keeps them)\n`,
    );
  const log = createLogger('warn', { component: 'demo' });
  const pg = await postgresFor(config, log);
  const db = createDb(pg.url, WRITES_IN_FLIGHT + 2, 'pulse-demo');
  try {
    await migrate(db, log);
    process.stderr.write(
      `demo: ${days} d every ${formatDuration(stepMs)} ending ${new Date(end).toISOString()}, ${hosts} hosts, seed ${seed}\n`,
    );
    const progress = progressLine('demo', 'batches');
    const report = (done: number, total: number, points: number): void =>
      progress(done, total, `${points.toLocaleString('en-US')} points`);
    const r = await runDemo({
      db,
      config,
      days,
      seed,
      hosts,
      stepMs,
      now: end,
      log,
      onProgress: report,
      onPhase: (what) => process.stderr.write(`demo: ${what}\n`),
    });
    process.stdout.write(`${summary(r)}\n`);
    process.stderr.write('demo: running regression detection as of the end of the data\n');
    const run = await demoRegression(db, config, r.to + r.stepMs, log);
    process.stdout.write(`\n${table(run)}\n`);
  } finally {
    await db.$pool.end();
    await pg.stop();
  }
}

async function main(): Promise<number> {
  let values: ReturnType<typeof parseCli>;
  try {
    values = parseCli();
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let settings: Settings;
  try {
    settings = settingsOf(values);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ConfigError)) throw err;
    process.stderr.write(`demo: ${err.message}\n`);
    return 2;
  }
  await demo(settings);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
