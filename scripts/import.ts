// Imports history: `npm run import -- FILE [--format ndjson|csv] [--batch N]` (FILE `-` is stdin).
//
// Rows carry the plan's columns: timestamp (ISO-8601 with a zone, or epoch milliseconds),
// metric_name, metric_value (or value), tags (a JSON object; in CSV a JSON string), source_agent_id,
// instance_id. Every row passes the ingest rules (validateBatch, one row at a time) and, because
// history without a time would be stored again by every run, must have a timestamp. A row with
// the series and millisecond of an earlier row of its batch is a duplicate when the value is the
// same and refused when it is not (ingest refuses such a request: one value would be lost).
// A row that would create a series past MAX_SERIES or MAX_SERIES_PER_METRIC is refused as
// ingest refuses it (counted in the same Redis registry; series already stored always pass).
// Bad rows are reported on stderr (file:line: field: reason, the first 100) and skipped.
//
// The file is streamed: constant memory whatever its size. Rows are read where they lie in the
// text (src/import/ndjson-reader.ts, csv-reader.ts: the same answers as JSON.parse or the CSV
// parser and the ingest rules, which take every row those readers do not) into batches of
// --batch (100,000) points held as columns, written with PointStore.write, one transaction each,
// WRITES_IN_FLIGHT (3) at once on their own connections while the next batch is read. A batch
// whose every point is stored already is only checked, so running an import twice stores
// nothing twice (its points are counted as duplicates); the primary key skips a stored point in
// any batch. Daily partitions of `points` are created for the days imported. At the end rollup_1h
// and the regression slots of the closed hours imported are built from the minutes the import
// appended (an hour that also held other rows is left to the aggregate job, run once then).
// Input compressed with gzip (a file or stdin) is read as such, found by its first two bytes.
//
// Exit codes: 0 every row imported (or already stored), 1 fatal error (only whole batches were
// stored; running it again is safe), 2 some rows rejected, 130 interrupted (SIGINT/SIGTERM: the
// rows read so far are written first).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { createDb, type Db } from '../src/infra/db.js';
import { ensurePostgres, redisFor, type Service } from '../src/infra/embedded.js';
import { keysFor } from '../src/infra/keys.js';
import type { Logger } from '../src/infra/logger.js';
import { closeRedis, createRedis } from '../src/infra/redis.js';
import { ImportError, openInput, type Input } from '../src/import/input.js';
import { count } from '../src/import/progress.js';
import { DEFAULT_BATCH, MAX_BATCH, runImport, summaryLine } from '../src/import/run.js';
import { migrate } from '../src/metrics/schema.js';
import { SeriesRegistry } from '../src/metrics/series-registry.js';
import { storedSeries } from '../src/metrics/store.js';
import { WRITES_IN_FLIGHT } from '../src/metrics/bulk-writer.js';
import { redactUrl } from '../src/infra/redact.js';

const USAGE = `usage: npm run import -- FILE [--format ndjson|csv] [--batch N]

Imports points from FILE (NDJSON: one JSON object per line; CSV: a header row, then one point
per row; either may be gzip-compressed; "-" reads stdin and needs --format). Columns:
timestamp (ISO-8601 with a zone, or epoch milliseconds), metric_name, metric_value (or value),
tags (a JSON object), source_agent_id, instance_id. Rows that break the ingest rules, or would create a series past MAX_SERIES or
MAX_SERIES_PER_METRIC, are reported on stderr and skipped.

  --format ndjson|csv   default: from the extension (.ndjson, .jsonl, .csv, maybe with .gz)
  --batch N             points per transaction (default ${count(DEFAULT_BATCH)})

Exit code: 0 all rows imported (or already stored), 1 fatal error, 2 some rows rejected.
PostgreSQL: DATABASE_URL, else the embedded one; Redis (the series limits): REDIS_URL, else the
local or embedded one, as npm start.`;

/** Peak resident set size of this process in kB (VmHWM), when /proc tells it. */
function peakRssKb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux: fall back to getrusage
  }
  return process.resourceUsage().maxRSS;
}

const err = (text: string) => process.stderr.write(`${text}\n`);

interface Cli {
  file: string;
  format: string | undefined;
  batchSize: number;
  reportRss: boolean;
}

/** The command line, or the exit code when it is not one to run (help, or a usage error). */
function parseCli(argv: string[]): Cli | number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        batch: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        'report-rss': { type: 'boolean' }, // hidden: tests read peak memory with it
      },
    });
  } catch (e) {
    err(`import: ${(e as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [file, ...extra] = args.positionals;
  if (file === undefined || extra.length > 0) {
    err(
      `import: ${file === undefined ? 'no FILE given' : `one FILE only, got ${args.positionals.length}`}\n\n${USAGE}`,
    );
    return 1;
  }
  const batchText = args.values.batch;
  const batchSize =
    batchText === undefined ? DEFAULT_BATCH : /^\d+$/.test(batchText) ? Number(batchText) : NaN;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    err(`import: --batch must be a whole number from 1 to ${count(MAX_BATCH)}, got "${batchText}"`);
    return 1;
  }
  const reportRss = args.values['report-rss'] === true;
  return { file, format: args.values.format, batchSize, reportRss };
}

/** What the import runs against; stop() closes all of it. */
interface Services {
  db?: Db;
  redis?: ReturnType<typeof createRedis>;
  pg?: Service;
  redisService?: Service;
}

async function stopServices(s: Services): Promise<void> {
  await s.db?.$pool.end().catch(() => undefined);
  if (s.redis) await closeRedis(s.redis).catch(() => undefined);
  await s.redisService?.stop().catch(() => undefined);
  await s.pg?.stop().catch(() => undefined);
}

/** PostgreSQL (migrated) and the series registry in the Redis a running pulse uses. */
async function openServices(
  config: Config,
  log: Logger,
  s: Services,
): Promise<{ db: Db; series: SeriesRegistry }> {
  if (config.postgres.url) {
    s.pg = { url: config.postgres.url, stop: () => Promise.resolve() };
  } else {
    err(`import: DATABASE_URL unset: using the embedded PostgreSQL under ${config.dataDir}`);
    s.pg = await ensurePostgres({
      dataDir: config.dataDir,
      port: config.postgres.embeddedPort,
      log,
    });
  }
  // A connection per write in flight, one for the reader's own statements, one for the check,
  // one for the upkeep beside the writes (hours built, metric rollups compacted).
  const db = createDb(s.pg.url, WRITES_IN_FLIGHT + 3, 'pulse-import', (e) =>
    log.warn({ err: e.message }, 'an idle PostgreSQL connection was closed by the server'),
  );
  s.db = db;
  try {
    await db.one('SELECT 1 AS ok');
  } catch (e) {
    throw new ImportError(
      `cannot connect to PostgreSQL at ${redactUrl(s.pg.url)}: ${(e as Error).message}`,
    );
  }
  await migrate(db, log);
  // The series limits are counted in the Redis a running pulse uses (or the embedded one).
  try {
    s.redisService = await redisFor(config, log);
  } catch (e) {
    throw new ImportError(`cannot use Redis for the series limits: ${(e as Error).message}`);
  }
  s.redis = createRedis(s.redisService.url, 'pulse-import', 'command');
  const series = new SeriesRegistry(
    s.redis,
    keysFor(config.prefix),
    config.series,
    storedSeries(db),
  );
  return { db, series };
}

/** SIGINT/SIGTERM stop after the batch being written; a second one stops at once. */
function stopOnSignals(): AbortSignal {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    err('\nimport: stopping after the batch being written (send the signal again to stop now)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

export async function main(argv: string[]): Promise<number> {
  // V8 lets the old generation grow to ~4x the live heap between full collections. Parsing
  // promotes a steady stream of short-lived rows, so that alone took a 200 MB file's import to
  // ~210 MB RSS; at 1.5x it peaks at ~150 MB for the same throughput (GC time stays ~1 %).
  v8.setFlagsFromString('--heap-growing-percent=50');
  const cli = parseCli(argv);
  if (typeof cli === 'number') return cli;
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err(`import: ${e.message}`);
    return 1;
  }
  // Logs go to stderr (stdout carries the summary); only warnings unless LOG_LEVEL asks for more.
  const log = pino(
    { level: process.env.LOG_LEVEL ? config.logLevel : 'warn', base: { pid: process.pid } },
    pino.destination({ dest: 2, sync: true }),
  );
  let input: Input;
  try {
    input = await openInput(cli.file, cli.format);
  } catch (e) {
    if (!(e instanceof ImportError)) throw e;
    err(`import: ${e.message}`);
    return 1;
  }
  if (input.stream === process.stdin && process.stdin.isTTY)
    err('import: reading points from the terminal; end with Ctrl-D');
  const signal = stopOnSignals();
  const services: Services = {};
  try {
    const { db, series } = await openServices(config, log, services);
    const result = await runImport(
      {
        file: cli.file,
        format: input.format,
        batchSize: cli.batchSize,
        db,
        log,
        acceptMs: config.retention.acceptMs,
        signal,
        series,
      },
      input,
    );
    process.stdout.write(`${summaryLine(result)}\n`);
    return result.exitCode;
  } catch (e) {
    if (e instanceof ImportError) err(`import: ${e.message}`);
    else err(`import: failed: ${(e as Error).stack ?? String(e)}`);
    return 1;
  } finally {
    await stopServices(services);
    if (cli.reportRss) err(`import: peak RSS VmHWM ${peakRssKb()} kB`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
