// npm run demo -- --days 7 [--end ISO] [--seed N] [--hosts 3] [--step 60s]
// Writes realistic demo data for every metric pulse's samplers produce (README, "Sampling"):
// process metrics per role and host, host metrics per host, PostgreSQL, Redis, every queue,
// and scraped node_exporter and app targets, with the samplers' names, units and tags, over the
// last N days at --step, ending now. Daily and weekly cycles, noise, occasional spikes, counters
// that only go up, and exactly one regression about 12 h before the end. It then runs regression
// detection as of the end and prints the report, so the dashboard shows it at once.
//
// Points go through the ingest rules (validateBatch) and PointStore.write in batches, so
// rollup_1m is exact, then the aggregate job builds rollup_1h. Every value is a pure function of
// (seed, series, timestamp) and timestamps sit on a grid of --step, so a second run stores
// nothing twice: the primary key skips what is already there, and the summary counts it.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { createDb, type Db } from '../src/infra/db.js';
import { formatDuration, parseDuration } from '../src/infra/duration.js';
import { postgresFor, runningRedis } from '../src/infra/embedded.js';
import { createLogger, type Logger } from '../src/infra/logger.js';
import { migrate } from '../src/metrics/schema.js';
import { aggregate } from '../src/jobs/aggregate.js';
import { entryOf } from '../src/metrics/entry.js';
import { ensurePartitions } from '../src/metrics/partitions.js';
import { validateBatch, type Point } from '../src/metrics/point.js';
import { sql } from '../src/metrics/queries.js';
import type { Tags } from '../src/metrics/series.js';
import { PointStore, type WriteResult } from '../src/metrics/store.js';
import { ISO_TIME } from '../src/api/params.js';
import { DashboardCache } from '../src/cache/dashboard-cache.js';
import { keysFor } from '../src/infra/keys.js';
import { closeRedis, createRedis } from '../src/infra/redis.js';
import { regression, type RegressionRun } from '../src/jobs/regression.js';
import { table } from './regression.js';
import { SECOND, MINUTE, HOUR, DAY } from '../src/infra/time.js';
import { progressLine } from '../src/infra/progress.js';
import { UsageError } from '../src/infra/usage-error.js';
import { planDemo, type DemoRegression, type SeriesRef } from '../src/demo/plan.js';
import type { Spec } from '../src/demo/spec.js';

/** Points per PointStore.write transaction, roughly (batches are whole hours). */
const BATCH_POINTS = 60_000;
/** Write transactions in flight at once (PostgreSQL works on one while the next is generated). */
const WRITE_CONCURRENCY = 2;

export interface DemoOptions {
  db: Db;
  config: Config;
  /** Days of data ending at `now`; at most RAW_RETENTION. */
  days: number;
  seed?: number;
  hosts?: number;
  stepMs?: number;
  /** End of the data, epoch ms (default: the clock). Tests pin it. */
  now?: number;
  /** Batches written of total, and points generated so far. */
  onProgress?: (done: number, total: number, points: number) => void;
  /** A phase starts: the writes (with their size), then building rollup_1h. */
  onPhase?: (what: string) => void;
  log?: Logger;
}

export interface DemoResult {
  /** First and last timestamp written, epoch ms. */
  from: number;
  to: number;
  stepMs: number;
  hosts: string[];
  /** Distinct series written. */
  series: number;
  points: number;
  /** Rows really inserted; the rest were already stored (an earlier run). */
  inserted: number;
  duplicates: number;
  rollup1h: { hours: number; rows: number };
  elapsedMs: number;
  regression: DemoRegression;
}

// ---------------------------------------------------------------------------------------------
// Writing.

interface RawPoint {
  metric_name: string;
  value: number;
  timestamp: number;
  tags: Tags;
}

/**
 * The batch's points, one array per spec. Generated in time order (counters walk forward), kept
 * per spec so each array holds one metric at distinct times: validateBatch's repeat check (same
 * series and millisecond) then stays on its fast path instead of comparing full series keys.
 */
function generate(specs: Spec[], from: number, to: number, stepMs: number): RawPoint[][] {
  const out: RawPoint[][] = specs.map(() => []);
  for (let t = from; t < to; t += stepMs) {
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i] as Spec;
      const value = s.value(t);
      if (value === undefined) continue;
      const tags = (s.pick ? s.variants[s.pick(t)] : s.variants[0]) as Tags;
      (out[i] as RawPoint[]).push({ metric_name: s.metric, value, timestamp: t, tags });
    }
  }
  return out;
}

/** Every point through the ingest rules, as a request of at most INGEST_MAX_POINTS would be. */
function validate(groups: RawPoint[][], now: number, config: Config): Point[] {
  const points: Point[] = [];
  const max = config.ingest.maxPoints;
  for (const raw of groups) {
    for (let i = 0; i < raw.length; i += max) {
      const checked = validateBatch(
        { points: raw.slice(i, i + max) },
        { now, maxPoints: max, acceptMs: config.retention.acceptMs },
      );
      if (!checked.ok) {
        const e = checked.errors[0];
        const p = raw[i + (e?.index ?? 0)];
        throw new Error(
          `demo data broke the ingest rules (${p?.metric_name} at ${p ? new Date(p.timestamp).toISOString() : '?'}): ${e?.field} ${e?.reason}`,
        );
      }
      for (const p of checked.points) points.push(p);
    }
  }
  return points;
}

/** `--end`: when the data ends, epoch ms; checked against the clock and how far back pulse accepts points. */
export function parseEnd(text: string, days: number, acceptMs: number, clock: number): number {
  const end = ISO_TIME.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(end))
    throw new UsageError(
      `--end ${JSON.stringify(text)}: expected an ISO-8601 date-time with a zone (2026-11-29T18:00:00Z) or a date (2026-11-29)`,
    );
  if (end > clock + MINUTE)
    throw new UsageError(
      `--end ${text}: is in the future (now is ${new Date(clock).toISOString()})`,
    );
  if (clock - (end - days * DAY) > acceptMs)
    throw new UsageError(
      `--end ${text} with --days ${days} starts ${formatDuration(clock - (end - days * DAY))} ago, further back than pulse accepts points (${ACCEPTED(acceptMs)}): ingest would refuse them. Use a later --end or fewer --days.`,
    );
  return end;
}

export function parseDays(text: string, acceptMs: number): number {
  const days = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(days) || days < 1)
    throw new UsageError(
      `--days ${JSON.stringify(text)}: expected a whole number of days, at least 1`,
    );
  checkRetention(days, acceptMs);
  return days;
}

/** How far back points are accepted, and why (config retention.acceptMs). */
const ACCEPTED = (acceptMs: number) =>
  `${formatDuration(acceptMs)}: RAW_RETENTION, or ROLLUP_1M_RETENTION less a margin where that is shorter`;

function checkRetention(days: number, acceptMs: number): void {
  if (days * DAY > acceptMs)
    throw new UsageError(
      `--days ${days} goes back further than pulse accepts points (${ACCEPTED(acceptMs)}): ingest refuses older ones. ` +
        `Use --days ${Math.floor(acceptMs / DAY)} or less.`,
    );
}

export function parseStep(text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms < SECOND || ms % SECOND !== 0 || ms > HOUR)
    throw new UsageError(
      `--step ${JSON.stringify(text)}: expected whole seconds from 1s to 1h (e.g. 10s, 60s, 5m)`,
    );
  return ms;
}

/** Writes the demo data into an already migrated database; resolves with what it did. */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  const seed = opts.seed ?? 1;
  const hostCount = opts.hosts ?? 3;
  const stepMs = opts.stepMs ?? MINUTE;
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed ${seed}: expected an integer`);
  if (!Number.isSafeInteger(hostCount) || hostCount < 1 || hostCount > 100)
    throw new UsageError(`--hosts ${hostCount}: expected a whole number from 1 to 100`);
  if (!Number.isSafeInteger(opts.days) || opts.days < 1)
    throw new UsageError(`--days ${opts.days}: expected a whole number of days, at least 1`);
  checkRetention(opts.days, opts.config.retention.acceptMs);
  parseStep(`${stepMs}ms`);
  const now = opts.now ?? Date.now();
  const log = opts.log ?? createLogger('silent');

  // A grid of --step ending at now: the same timestamps on every run within a step.
  const end = Math.floor(now / stepMs) * stepMs;
  const steps = Math.floor((opts.days * DAY) / stepMs);
  const first = end - (steps - 1) * stepMs;
  const plan = planDemo({ seed, hosts: hostCount, stepMs, end });

  // Partitions for the days the data covers (the start-up only makes them from yesterday on).
  await opts.db.one(sql.pointsPartitionsEnsure, [
    new Date(first).toISOString().slice(0, 10),
    new Date(end).toISOString().slice(0, 10),
  ]);
  await ensurePartitions(opts.db, now);

  // Batches of whole hours, so no minute (and no hour) is split between two transactions.
  const perHour = plan.specs.length * Math.max(1, HOUR / stepMs);
  const batchMs = Math.max(1, Math.floor(BATCH_POINTS / perHour)) * HOUR;
  const batches: [number, number][] = [];
  for (let b = Math.floor(first / batchMs) * batchMs; b <= end; b += batchMs) {
    const from = Math.max(b, first);
    // Keep `from` on the step grid.
    const aligned = Math.ceil(from / stepMs) * stepMs;
    batches.push([aligned, Math.min(b + batchMs, end + 1)]);
  }

  opts.onPhase?.(
    `writing about ${(steps * plan.specs.length).toLocaleString('en-US')} points (${steps.toLocaleString('en-US')} ticks) in ${batches.length} transactions`,
  );
  const store = new PointStore(opts.db);
  const fingerprints = new Set<string>();
  let points = 0;
  let inserted = 0;
  let done = 0;
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  const write = (batch: Point[]) => {
    const entry = entryOf(batch);
    for (const s of entry.series) fingerprints.add(s.fingerprint);
    const p: Promise<void> = store
      .write([entry])
      .then((r: WriteResult) => {
        inserted += r.inserted;
        done += 1;
        opts.onProgress?.(done, batches.length, points);
      })
      .catch((err: unknown) => {
        failure ??= err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    return p;
  };
  opts.onProgress?.(0, batches.length, 0);
  try {
    for (let i = 0; i < batches.length && failure === undefined; i++) {
      const [from, to] = batches[i] as [number, number];
      const batch = validate(generate(plan.specs, from, to, stepMs), now, opts.config);
      points += batch.length;
      const p = write(batch);
      // The first batch alone creates (nearly) every series; later ones only look them up.
      if (i === 0) await p;
      while (inFlight.size >= WRITE_CONCURRENCY) await Promise.race(inFlight);
    }
  } finally {
    // Never leave a transaction running behind a failure (the caller closes the pool).
    await Promise.all(inFlight);
  }
  if (failure !== undefined) throw failure;

  // The aggregate job builds rollup_1h for the closed hours the writes marked dirty. One call
  // works for at most a minute (an hour per transaction), so a long range takes a few calls;
  // the bound only guards against a live flush that keeps marking hours.
  opts.onPhase?.('building rollup_1h');
  const rollup1h = { hours: 0, rows: 0 };
  for (let call = 0; call < opts.days + 5; call++) {
    const r = await aggregate({ db: opts.db, log }, { reason: 'manual' });
    rollup1h.hours += r.hours;
    rollup1h.rows += r.rows;
    if (r.hours === 0) break;
  }
  return {
    from: first,
    to: end,
    stepMs,
    hosts: plan.hosts.map((h) => h.name),
    series: fingerprints.size,
    points,
    inserted,
    duplicates: points - inserted,
    rollup1h,
    elapsedMs: performance.now() - started,
    regression: plan.regression,
  };
}

// ---------------------------------------------------------------------------------------------
// Command line.

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

function describeSeries(s: SeriesRef): string {
  const tags = Object.entries(s.tags)
    .filter(([k]) => k === 'hostname' || k === 'role')
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `${s.metric}{${tags}}`;
}

export function summary(r: DemoResult): string {
  const int = (n: number) => n.toLocaleString('en-US');
  const ago = (r.to - r.regression.at) / HOUR;
  return [
    `demo data: ${new Date(r.from).toISOString()} → ${new Date(r.to).toISOString()} every ${formatDuration(r.stepMs)}, hosts ${r.hosts.join(', ')}`,
    `  series      ${int(r.series)}`,
    `  points      ${int(r.points)} (${int(r.inserted)} new, ${int(r.duplicates)} duplicates already stored)`,
    `  rollup_1h   ${int(r.rollup1h.rows)} rows over ${int(r.rollup1h.hours)} closed hours`,
    `  elapsed     ${(r.elapsedMs / 1_000).toFixed(1)} s`,
    `  regression  on ${r.regression.hostname} from ${new Date(r.regression.at).toISOString()} (${ago.toFixed(1)} h before the last point): ×${r.regression.factor}`,
    ...r.regression.series.map((s) => `              ${describeSeries(s)}`),
  ].join('\n');
}

/**
 * Regression detection as of `at`, as the regression job runs it. The dashboard's cached report
 * is replaced when a Redis answers (the demo never starts one of its own for this).
 */
export async function demoRegression(
  db: Db,
  config: Config,
  at: number,
  log: Logger,
): Promise<RegressionRun> {
  const url = await runningRedis(config);
  if (url === undefined)
    process.stderr.write(
      'demo: note: no Redis answers, so the dashboard shows this report after its next warm pass\n',
    );
  const redis = url === undefined ? undefined : createRedis(url, 'pulse-demo', 'command');
  try {
    return await regression(
      {
        db,
        log,
        config: { ...config.regression, minSegmentMinutes: 60 },
        now: () => at,
        cache: redis
          ? {
              cache: new DashboardCache(redis, keysFor(config.prefix), log),
              ttlMs: config.cache.ttlMs,
            }
          : undefined,
      },
      { reason: 'manual' },
    );
  } finally {
    if (redis) await closeRedis(redis);
  }
}

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
  let config: Config;
  let days: number;
  let stepMs: number;
  let seed: number;
  let hosts: number;
  let end: number;
  try {
    config = loadConfig();
    days = parseDays(values.days, config.retention.acceptMs);
    const clock = Date.now();
    end =
      values.end === undefined
        ? clock
        : parseEnd(values.end, days, config.retention.acceptMs, clock);
    stepMs = parseStep(values.step);
    seed = /^-?\d+$/.test(values.seed) ? Number(values.seed) : NaN;
    if (!Number.isSafeInteger(seed))
      throw new UsageError(`--seed ${JSON.stringify(values.seed)}: expected an integer`);
    hosts = /^\d+$/.test(values.hosts) ? Number(values.hosts) : NaN;
    if (!Number.isSafeInteger(hosts) || hosts < 1 || hosts > 100)
      throw new UsageError(
        `--hosts ${JSON.stringify(values.hosts)}: expected a whole number from 1 to 100`,
      );
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ConfigError)) throw err;
    process.stderr.write(`demo: ${err.message}\n`);
    return 2;
  }
  if (days * DAY > config.retention.rollup1mMs)
    process.stderr.write(
      `demo: note: ROLLUP_1M_RETENTION is ${formatDuration(config.retention.rollup1mMs)}; the maintenance job will expire older minute rollups (rollup_1h keeps them)\n`,
    );
  const log = createLogger('warn', { component: 'demo' });
  const pg = await postgresFor(config, log);
  const db = createDb(pg.url, WRITE_CONCURRENCY + 1, 'pulse-demo');
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
    return 0;
  } finally {
    await db.$pool.end();
    await pg.stop();
  }
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
