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
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import type { Db } from '../src/infra/db.js';
import { keysFor } from '../src/infra/keys.js';
import type { Logger } from '../src/infra/logger.js';
import { aggregate } from '../src/jobs/aggregate.js';
import { flush, type FlushResult } from '../src/jobs/flush.js';
import {
  decodeEntry,
  encodeEntry,
  ENTRY_POINTS,
  PointBuffer,
  type DecodedEntry,
} from '../src/metrics/buffer.js';
import { ensurePartitions } from '../src/metrics/partitions.js';
import { sql } from '../src/metrics/queries.js';
import { aggregateMinutes } from '../src/metrics/rollup.js';
import { summary, trend, type Stats } from '../src/metrics/rollup-queries.js';
import { seriesDef, type SeriesDef } from '../src/metrics/series.js';
import { add, type Sketch } from '../src/metrics/sketch.js';
import { PointStore } from '../src/metrics/store.js';
import {
  BASELINE_LABEL,
  BASELINE_TEXT,
  type BaselineFigures,
  type BaselineKind,
  type CopyRun,
} from './bench/baseline.js';
import {
  type Cores,
  CPU_GROUPS,
  cpuCores,
  type CpuGroup,
  type CpuRoles,
  cpuSnapshot,
  type CpuSnapshot,
  NOISE_CORES,
} from './bench/cpu.js';
import { copyChunks, type Dataset, pointsOf, prng } from './bench/data.js';
import { benchMain, every, openEnv, progress, redactUrl, type Resources } from './bench/env.js';
import { drainFlush, fillBuffer, insertSeries } from './bench/flush.js';
import {
  COMMON_USAGE,
  commonOptions,
  DATABASE_URL_USAGE,
  parseBenchArgs,
  wholeOption,
} from './bench/options.js';
import {
  fixed,
  type Goal,
  int,
  markdownTable,
  RESULTS_MD,
  ROOT,
  textTable,
  writeResultFiles,
} from './bench/report.js';
import { type CallTimes, timeCalls } from './bench/timing.js';
import { SECOND, MINUTE, HOUR, DAY } from '../src/infra/time.js';
import { UsageError } from '../src/infra/usage-error.js';

const RESULTS_JSON = path.join(ROOT, 'bench', 'results', 'rollup.json');

const APPEND_CHUNK = 10_000; // points per PointBuffer.append while filling (untimed)
const COPY_ROWS_PER_CHUNK = 2_000; // as PointStore streams them
const GOALS = { flushRatio: 0.5, minuteRatio: 1.5, maxErrorPct: 1 };
/** Accuracy data: one point per series every 10 s (the default SAMPLE_INTERVAL). */
const ACCURACY_INTERVAL_MS = 10 * SECOND;
/** Hours of accuracy data: a 24 h range that does not start on an hour, plus margin. */
const ACCURACY_HOURS = 26;
/** Week fill: sketch families (one per series modulo) × variants (per minute). */
const SKETCH_FAMILIES = 64;
const SKETCH_VARIANTS = 64;

const STAGES = ['flush', 'minute', 'hour', 'accuracy'] as const;
type Stage = (typeof STAGES)[number];

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  series: number;
  points: number;
  smallRows: number;
  largeRows: number;
  reps: number;
  days: number;
  accuracySeries: number;
  sampleSeries: number;
  stages: Stage[];
  databaseUrl: string;
  redisUrl: string;
  seed: number;
  failOnGoal: boolean;
}

const USAGE = `usage: node --import tsx scripts/bench-rollup.ts [options]
  --series N            series in every stage but accuracy (default 1000)
  --points N            points the flush stage drains, one per series per second (default 1000000)
  --small-rows N        rows already stored in the small case of the new-minute stage (default 100000)
  --large-rows N        rows already stored in the large case (default 10000000)
  --reps N              timed new minutes per case, at least 5; the median counts (default 7)
  --days N              days of rollup_1m rows (× series × 1,440) the aggregate job rolls up
                        into rollup_1h (default 7)
  --accuracy-series N   series written for the accuracy stage, one point per 10 s over ${ACCURACY_HOURS} h
                        (default 100)
  --sample-series N     of those, series whose trend() is checked one by one (default 20)
  --stages LIST         comma-separated subset of ${STAGES.join(',')} (default all; results files are
                        only written when every stage ran)
${DATABASE_URL_USAGE}
  --redis-url URL       Redis to buffer in (default $REDIS_URL or redis://127.0.0.1:6379)
${COMMON_USAGE}`;

function parseOptions(argv: string[]): Options {
  const values = parseBenchArgs(
    argv,
    {
      series: { type: 'string' },
      points: { type: 'string' },
      'small-rows': { type: 'string' },
      'large-rows': { type: 'string' },
      reps: { type: 'string' },
      days: { type: 'string' },
      'accuracy-series': { type: 'string' },
      'sample-series': { type: 'string' },
      stages: { type: 'string' },
    },
    USAGE,
  );
  const stages = (values.stages ?? STAGES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of stages)
    if (!STAGES.includes(s as Stage))
      throw new UsageError(`--stages: unknown stage ${s} (expected ${STAGES.join(', ')})`);
  const opts: Options = {
    series: wholeOption(values.series, 1_000, 'series', 10),
    points: wholeOption(values.points, 1_000_000, 'points', 10_000),
    smallRows: wholeOption(values['small-rows'], 100_000, 'small-rows', 0),
    largeRows: wholeOption(values['large-rows'], 10_000_000, 'large-rows', 1),
    reps: wholeOption(values.reps, 7, 'reps', 5),
    days: wholeOption(values.days, 7, 'days', 1),
    accuracySeries: wholeOption(values['accuracy-series'], 100, 'accuracy-series', 1),
    sampleSeries: wholeOption(values['sample-series'], 20, 'sample-series', 1),
    stages: STAGES.filter((s) => stages.includes(s)),
    ...commonOptions(values),
  };
  // Dataset.seriesIndex is a Uint16Array.
  if (opts.series > 65_535) throw new UsageError('--series: at most 65535');
  if (opts.accuracySeries > opts.series)
    throw new UsageError('--accuracy-series: at most --series');
  if (opts.sampleSeries > opts.accuracySeries)
    throw new UsageError('--sample-series: at most --accuracy-series');
  if (opts.largeRows <= opts.smallRows)
    throw new UsageError('--large-rows: must be more than --small-rows');
  return opts;
}

// ---------------------------------------------------------------------------------------------
// Small utilities

const alignDown = (ms: number, unit: number) => ms - (((ms % unit) + unit) % unit);
const seconds = (ms: number) => fixed(ms / 1_000, 2);

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** A relative error in percent; more digits where three would round it onto the goal. */
function pct(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const short = fixed(x, 3);
  return `${Number(short) === GOALS.maxErrorPct && x !== GOALS.maxErrorPct ? fixed(x, 6) : short} %`;
}

async function countRows(db: Db, table: string): Promise<number> {
  return (await db.one<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${table}`)).n;
}

async function emptyTables(db: Db): Promise<void> {
  await db.none('TRUNCATE points, rollup_1m, rollup_1h, rollup_dirty_hours');
}

// ---------------------------------------------------------------------------------------------
// Synthetic series and data: 10 metrics × N hosts, each metric with its own value distribution
// (long-tailed latencies, clamped percentages, zero-heavy GC pauses, near-constant sizes), so the
// sketches see the shapes real metrics have.

type Draw = (rand: () => number, level: number) => number;

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const METRICS: { name: string; draw: Draw }[] = [
  {
    name: 'cpu_usage_percentage',
    draw: (r, l) => Math.min(100, Math.max(0, 35 * l + 15 * normal(r))),
  },
  { name: 'memory_usage_bytes', draw: (r, l) => 4e9 * l * (1 + 0.01 * normal(r)) },
  { name: 'heap_used_bytes', draw: (r, l) => 5e8 * l * Math.exp(0.2 * normal(r)) },
  { name: 'heap_total_bytes', draw: (r, l) => 1e9 * l * (1 + 0.002 * normal(r)) },
  { name: 'event_loop_lag_ms', draw: (r, l) => 2 * l * Math.exp(0.8 * normal(r)) },
  { name: 'gc_pause_ms', draw: (r, l) => (r() < 0.4 ? 0 : 4 * l * Math.exp(normal(r))) },
  { name: 'http_request_duration_ms', draw: (r, l) => 80 * l * Math.exp(0.7 * normal(r)) },
  { name: 'http_requests_per_second', draw: (r, l) => Math.max(0, 500 * l + 80 * normal(r)) },
  {
    name: 'active_handles_count',
    draw: (r, l) => Math.max(0, Math.round(150 * l + 20 * normal(r))),
  },
  { name: 'disk_io_bytes_per_second', draw: (r, l) => 1e6 * l * Math.exp(1.5 * normal(r)) },
];

interface SeriesSpec {
  def: SeriesDef;
  draw: Draw;
  /** Per-series scale of the values, 0.5–1.5. */
  level: number;
  /** Offset inside each interval at which this series reports, in [0, 1) of the interval. */
  phase: number;
  host: string;
}

function makeSeries(count: number, seed: number): SeriesSpec[] {
  const rand = prng(seed);
  const hex = (digits: number) =>
    Array.from({ length: digits }, () => Math.floor(rand() * 16).toString(16)).join('');
  const hosts = Math.ceil(count / METRICS.length);
  const out: SeriesSpec[] = [];
  for (let h = 0; h < hosts; h++) {
    const host = `app-${String(h + 1).padStart(4, '0')}.pulse.internal`;
    const tags = {
      hostname: host,
      environment: h % 4 === 3 ? 'staging' : 'production',
      instance_id: `i-0${hex(16)}`,
    };
    for (const m of METRICS) {
      if (out.length === count) break;
      out.push({
        def: seriesDef({ metricName: m.name, sourceAgentId: null, instanceId: null, tags }),
        draw: m.draw,
        level: 0.5 + rand(),
        phase: rand(),
        host,
      });
    }
  }
  return out;
}

/**
 * `steps` × series points in arrival order: step k carries one point of every series, at
 * start + k·interval + the series' phase (so timestamps are unique within a series).
 */
function timeline(
  specs: SeriesSpec[],
  seed: number,
  startMs: number,
  intervalMs: number,
  steps: number,
): Dataset {
  const rand = prng(seed);
  const s = specs.length;
  const n = steps * s;
  const data: Dataset = {
    n,
    series: specs.map((x) => x.def),
    seriesIndex: new Uint16Array(n),
    ts: new Float64Array(n),
    value: new Float64Array(n),
  };
  const phase = specs.map((x) => Math.floor(x.phase * intervalMs));
  let i = 0;
  for (let k = 0; k < steps; k++) {
    const base = startMs + k * intervalMs;
    for (let j = 0; j < s; j++) {
      const spec = specs[j] as SeriesSpec;
      data.seriesIndex[i] = j;
      data.ts[i] = base + (phase[j] as number);
      data.value[i] = spec.draw(rand, spec.level);
      i++;
    }
  }
  return data;
}

/** Points [from, to) as the flush sees them: buffer entries of ENTRY_POINTS, encoded and decoded. */
function decodedEntries(data: Dataset, from = 0, to = data.n): DecodedEntry[] {
  const out: DecodedEntry[] = [];
  for (let i = from; i < to; i += ENTRY_POINTS) {
    const e = encodeEntry(pointsOf(data, i, Math.min(to, i + ENTRY_POINTS)));
    out.push(decodeEntry(e));
  }
  return out;
}

function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Timing inside PointStore.write without changing it: the store gets a Db whose connections
// time the statements it sends (the rollup_1m append and dirty-hour mark; the COMMIT).

interface StatementTimes {
  rollupMs: number;
  commitMs: number;
}

type Conn = Awaited<ReturnType<Db['connect']>>;

function timedDb(db: Db, times: StatementTimes): Db {
  const timedConn = (conn: Conn): Conn =>
    new Proxy(conn, {
      get(target, prop) {
        if (prop === 'none') {
          return async (query: Parameters<Conn['none']>[0], values?: unknown) => {
            const started = performance.now();
            try {
              return await target.none(query, values);
            } finally {
              const ms = performance.now() - started;
              if (query === sql.rollup1mAppend || query === sql.rollupDirtyMark)
                times.rollupMs += ms;
              else if (query === 'COMMIT') times.commitMs += ms;
            }
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function'
          ? (value as (...args: unknown[]) => unknown).bind(target)
          : value;
      },
    });
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'connect')
        return async (...args: Parameters<Db['connect']>) =>
          timedConn(await target.connect(...args));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function'
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

/** A store whose statements are timed (rollup SQL, commit) and whose writes are timed in all. */
function timedStore(db: Db): {
  store: PointStore;
  times: StatementTimes;
  writes: CallTimes<'write'>;
  reset(): void;
} {
  const times: StatementTimes = { rollupMs: 0, commitMs: 0 };
  const store = new PointStore(timedDb(db, times));
  const writes = timeCalls(store, ['write']);
  return {
    store,
    times,
    writes,
    reset() {
      writes.reset();
      times.rollupMs = times.commitMs = 0;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared context of the stages

interface Ctx {
  db: Db;
  dbUrl: string;
  redis: Redis;
  res: Resources;
  roles: CpuRoles;
  specs: SeriesSpec[];
  /** Series id of each spec, same order. */
  ids: number[];
  flushDefaults: { concurrency: number; readEntries: number; claimIdleMs: number };
  log: Logger;
  opts: Options;
  database: string;
  /** Connection to the server's maintenance database (pg_stat_activity samples), its backend. */
  admin: pg.Client;
  adminPid: number;
}

/**
 * CPU ticks by group, as bench-lib's cpuSnapshot counts them, except that PostgreSQL backends
 * serving another database (other users of a shared server) count as "other", not "postgres".
 */
function snapshot(ctx: Ctx): CpuSnapshot {
  const snap = cpuSnapshot(ctx.roles);
  for (const [pid, entry] of snap) {
    if (entry.group !== 'postgres' || pid === ctx.roles.postgres) continue;
    let title: string;
    try {
      title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // exited meanwhile
    }
    // A backend's title: "postgres: [cluster: ]user database host(port) state".
    const backend = /^postgres: (?:\S+: )?\S+ (\S+) (?:\[local\]|\S+\(\d+\))/.exec(title);
    if (backend && backend[1] !== ctx.database && pid !== ctx.adminPid) entry.group = 'other';
  }
  return snap;
}

/** Binary COPY streams into `points`, each on its own connection, all at once. */
async function copyStreams(clients: pg.Client[], streams: Buffer[][]): Promise<void> {
  const statement = 'COPY points (series_id, ts, value) FROM STDIN (FORMAT binary)';
  await Promise.all(
    streams.map((chunks, i) =>
      pipeline(Readable.from(chunks), (clients[i] as pg.Client).query(copyFrom(statement))),
    ),
  );
}

async function copyClients(ctx: Ctx): Promise<pg.Client[]> {
  const clients = [0, 1].map(
    (i) =>
      new pg.Client({ connectionString: ctx.dbUrl, application_name: `pulse-bench-copy-${i}` }),
  );
  ctx.res.clients.push(...clients);
  await Promise.all(clients.map((c) => c.connect()));
  return clients;
}

async function closeClients(ctx: Ctx, clients: pg.Client[]): Promise<void> {
  ctx.res.clients = ctx.res.clients.filter((c) => !clients.includes(c));
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
}

// ---------------------------------------------------------------------------------------------
// Stage 1: flush with rollup_1m against raw COPY

async function copyRun(
  ctx: Ctx,
  name: string,
  clients: pg.Client[],
  streams: Buffer[][],
  n: number,
): Promise<CopyRun> {
  await ctx.db.none('CHECKPOINT');
  const cpu0 = snapshot(ctx);
  const started = performance.now();
  await copyStreams(clients, streams);
  const ms = performance.now() - started;
  const cpu = cpuCores(cpu0, snapshot(ctx), ms);
  const stored = await countRows(ctx.db, 'points');
  if (stored !== n) throw new Error(`baseline (${name}) stored ${stored} rows, expected ${n}`);
  await emptyTables(ctx.db);
  progress(`flush baseline: ${name}: ${int(n)} rows in ${seconds(ms)} s`);
  return { streams: streams.length, ms, cpu, rowsPerSec: (n * 1_000) / ms };
}

async function stageCopy(ctx: Ctx, data: Dataset): Promise<BaselineFigures> {
  progress('flush baseline: building binary COPY data (untimed)');
  const whole = copyChunks(data, ctx.ids, COPY_ROWS_PER_CHUNK);
  const mid = Math.floor(data.n / 2);
  const halves = [
    copyChunks(data, ctx.ids, COPY_ROWS_PER_CHUNK, 0, mid),
    copyChunks(data, ctx.ids, COPY_ROWS_PER_CHUNK, mid, data.n),
  ];
  const bytes = whole.reduce((sum, c) => sum + c.length, 0);
  const clients = await copyClients(ctx);
  try {
    const single = await copyRun(ctx, '1 stream', clients, [whole], data.n);
    const parallel = await copyRun(ctx, '2 parallel streams', clients, halves, data.n);
    const used: BaselineKind = parallel.rowsPerSec > single.rowsPerSec ? 'parallel' : 'single';
    progress(`flush baseline: ratios use ${BASELINE_TEXT[used]} (the faster)`);
    return {
      single,
      parallel,
      used,
      rowsPerSec: (used === 'parallel' ? parallel : single).rowsPerSec,
      bytes,
    };
  } finally {
    await closeClients(ctx, clients);
  }
}

interface FlushFigures {
  points: number;
  ms: number;
  cpu: Cores;
  pointsPerSec: number;
  ratio: number;
  fillMs: number;
  warmupPoints: number;
  concurrency: number;
  readEntries: number;
  batches: number;
  /** Time summed over the concurrent loops. */
  loopMs: number;
  readMs: number;
  writeMs: number;
  ackMs: number;
  /** Inside write: the rollup_1m append and dirty-hour mark statements; the COMMIT. */
  rollupSqlMs: number;
  commitMs: number;
  rollupRows: number;
  /** Samples of the flush's active connections, and how many of them waited, by wait event. */
  busySamples: number;
  waits: Record<string, number>;
}

async function stageFlush(
  ctx: Ctx,
  prefix: string,
  data: Dataset,
  baseline: BaselineFigures,
): Promise<FlushFigures> {
  const { db, redis, flushDefaults: defaults } = ctx;
  const buffer = new PointBuffer(redis, keysFor(prefix), data.n);
  const bufferTimes = timeCalls(buffer, ['read', 'ack']);
  await buffer.ensureGroup();
  const timed = timedStore(db);
  const deps = (consumer: string) => ({
    buffer,
    store: timed.store,
    log: ctx.log.child({ consumer }),
    consumer,
    readEntries: defaults.readEntries,
    claimIdleMs: defaults.claimIdleMs,
  });
  const consumers = Array.from(
    { length: defaults.concurrency },
    (_, i) => `bench:${process.pid}:${i}`,
  );

  // A running worker is warm: compiled code, connected pool, cached series ids.
  const warmupPoints = Math.min(data.n, defaults.readEntries * ENTRY_POINTS);
  progress(`flush: warm-up, one untimed batch of ${int(warmupPoints)} points`);
  for (let i = 0; i < warmupPoints; i += APPEND_CHUNK) {
    await buffer.append(pointsOf(data, i, Math.min(warmupPoints, i + APPEND_CHUNK)));
  }
  await flush(deps(consumers[0] as string), { reason: 'manual' });
  const held = await Promise.all(consumers.map(() => db.connect()));
  for (const c of held) await c.done();
  if ((await buffer.depth()) !== 0) throw new Error('warm-up left points in the buffer');
  await emptyTables(db);
  bufferTimes.reset();
  timed.reset();

  progress(`flush: filling the Redis buffer (${int(data.n)} points, untimed)`);
  const filled = performance.now();
  await fillBuffer(buffer, data, APPEND_CHUNK);
  const fillMs = performance.now() - filled;
  const depth = await buffer.depth();
  if (depth !== data.n) throw new Error(`buffer depth is ${depth} after filling, not ${data.n}`);
  progress(
    `flush: buffer filled in ${fixed(fillMs / 1_000, 1)} s; draining with ${defaults.concurrency} loops`,
  );

  await db.none('CHECKPOINT');
  let drained: { totals: FlushResult; loopMs: number };
  let ms = 0;
  let cpu: Cores;
  const cpu0 = snapshot(ctx);
  const started = performance.now();
  const stopProgress = every(
    2_000,
    async () => {
      const done = data.n - (await buffer.depth());
      const s = (performance.now() - started) / 1_000;
      progress(`flush: ${int(done)} / ${int(data.n)} points stored (${int(done / s)}/s)`);
    },
    'progress',
  );
  // What the flush's connections are doing: a busy one waiting on a lock (a rollup_1m row the
  // other flush holds, say) is time neither core spends on the data.
  const waits = new Map<string, number>();
  let busySamples = 0;
  const stopWaits = every(
    50,
    async () => {
      const { rows } = await ctx.admin.query<{ wait: string | null }>(
        `SELECT CASE WHEN wait_event_type IN ('Lock', 'LWLock', 'IO', 'IPC') THEN wait_event_type || ':' || wait_event END AS wait
       FROM pg_stat_activity
       WHERE datname = $1 AND application_name = 'pulse-bench' AND state = 'active' AND pid <> pg_backend_pid()`,
        [ctx.database],
      );
      for (const r of rows) {
        busySamples += 1;
        if (r.wait !== null) waits.set(r.wait, (waits.get(r.wait) ?? 0) + 1);
      }
    },
    'progress',
  );
  try {
    drained = await drainFlush(consumers, deps);
    ms = performance.now() - started;
    cpu = cpuCores(cpu0, snapshot(ctx), ms);
  } finally {
    await stopProgress();
    await stopWaits();
  }
  const { totals, loopMs } = drained;

  const stored = await countRows(db, 'points');
  const left = await buffer.depth();
  if (stored !== data.n || left !== 0 || totals.deadLettered > 0 || totals.duplicates > 0) {
    throw new Error(
      `flush stage stored ${stored} of ${data.n} points (buffer depth ${left}, ` +
        `${totals.deadLettered} dead-lettered, ${totals.duplicates} duplicates)`,
    );
  }
  const rolled = await db.one<{ rows: number; points: number }>(
    'SELECT count(*)::bigint AS rows, coalesce(sum(count), 0)::bigint AS points FROM rollup_1m',
  );
  if (rolled.points !== data.n)
    throw new Error(`rollup_1m counts ${rolled.points} points after the flush, not ${data.n}`);
  await emptyTables(db);
  const pointsPerSec = (data.n * 1_000) / ms;
  progress(
    `flush: ${int(data.n)} points in ${seconds(ms)} s, ${totals.batches} batches, ${int(rolled.rows)} rollup_1m rows`,
  );
  return {
    points: data.n,
    ms,
    cpu,
    pointsPerSec,
    ratio: pointsPerSec / baseline.rowsPerSec,
    fillMs,
    warmupPoints,
    concurrency: defaults.concurrency,
    readEntries: defaults.readEntries,
    batches: totals.batches,
    loopMs,
    readMs: bufferTimes.ms.read,
    writeMs: timed.writes.ms.write,
    ackMs: bufferTimes.ms.ack,
    rollupSqlMs: timed.times.rollupMs,
    commitMs: timed.times.commitMs,
    rollupRows: rolled.rows,
    busySamples,
    waits: Object.fromEntries([...waits.entries()].sort((a, b) => b[1] - a[1])),
  };
}

// ---------------------------------------------------------------------------------------------
// Stage 2: one new minute with a small and a large history

interface MinuteCase {
  label: 'small' | 'large';
  historyRows: number;
  historyRollupRows: number;
  fillMs: number;
  /** Per timed minute: whole PointStore.write time for the minute, and its parts. */
  minuteMs: number[];
  rollupSqlMs: number[];
  commitMs: number[];
  medianMs: number;
  medianRollupSqlMs: number;
  medianCommitMs: number;
  cpu: Cores;
  timedMs: number;
}

interface MinuteFigures {
  small: MinuteCase;
  large: MinuteCase;
  ratio: number;
  pointsPerMinute: number;
  writesPerMinute: number;
  /** aggregateMinutes (JS) on one minute's batches, measured apart; median ms. */
  jsAggregateMs: number;
}

async function minuteCase(
  ctx: Ctx,
  label: 'small' | 'large',
  historyRows: number,
  t0: number,
  minutes: DecodedEntry[][][],
): Promise<MinuteCase> {
  const { db, specs } = ctx;
  await emptyTables(db);
  const steps = Math.ceil(historyRows / specs.length);
  const rows = steps * specs.length;
  progress(
    `minute (${label}): storing a history of ${int(rows)} points (${fixed((steps * SECOND) / HOUR, 2)} h × ${int(specs.length)} series, untimed)`,
  );
  const filled = performance.now();
  if (rows > 0) {
    const data = timeline(specs, ctx.opts.seed + 2, t0 - steps * SECOND, SECOND, steps);
    const mid = Math.floor(data.n / 2);
    const clients = await copyClients(ctx);
    try {
      await copyStreams(clients, [
        copyChunks(data, ctx.ids, COPY_ROWS_PER_CHUNK, 0, mid),
        copyChunks(data, ctx.ids, COPY_ROWS_PER_CHUNK, mid, data.n),
      ]);
    } finally {
      await closeClients(ctx, clients);
    }
    // Their rollup_1m rows, as the flushes that stored them would have left them (the filler's
    // sketches are empty: no new minute meets these rows).
    await db.none(
      `INSERT INTO rollup_1m (series_id, bucket, count, sum, min, max, last, last_ts, sketch)
       SELECT series_id, date_trunc('minute', ts), count(*), sum(value), min(value), max(value),
              (array_agg(value ORDER BY ts DESC))[1], max(ts), '{}'::jsonb
       FROM points GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    // What autovacuum would have done by now; also keeps it from starting during the timing.
    await db.none('VACUUM (ANALYZE) points');
    await db.none('VACUUM (ANALYZE) rollup_1m');
  }
  const historyRollupRows = await countRows(db, 'rollup_1m');
  const fillMs = performance.now() - filled;
  progress(
    `minute (${label}): ${int(rows)} points and ${int(historyRollupRows)} rollup_1m rows stored in ${fixed(fillMs / 1_000, 1)} s`,
  );

  const timed = timedStore(db);
  const store = timed.store;
  const minuteMs: number[] = [];
  const rollupSqlMs: number[] = [];
  const commitMs: number[] = [];
  let timedMs = 0;
  let cpuTicks: Cores | undefined;
  for (let m = 0; m < minutes.length; m++) {
    const warmup = m === 0;
    await db.none('CHECKPOINT');
    timed.reset();
    const cpu0 = snapshot(ctx);
    const started = performance.now();
    for (const batch of minutes[m] as DecodedEntry[][]) await store.write(batch);
    const ms = performance.now() - started;
    const cpu = cpuCores(cpu0, snapshot(ctx), ms);
    if (warmup) {
      progress(`minute (${label}): warm-up minute in ${fixed(ms, 0)} ms (untimed)`);
      continue;
    }
    // Cores averaged over the timed minutes, weighted by their time.
    const acc = cpuTicks ?? (Object.fromEntries(CPU_GROUPS.map((g) => [g, 0])) as Cores);
    for (const g of CPU_GROUPS) acc[g] += cpu[g] * ms;
    cpuTicks = acc;
    timedMs += ms;
    minuteMs.push(ms);
    rollupSqlMs.push(timed.times.rollupMs);
    commitMs.push(timed.times.commitMs);
    progress(
      `minute (${label}): minute ${m}/${minutes.length - 1} in ${fixed(ms, 0)} ms (rollup SQL ${fixed(timed.times.rollupMs, 0)} ms)`,
    );
  }
  const cpu = Object.fromEntries(
    CPU_GROUPS.map((g) => [g, Math.round(((cpuTicks?.[g] ?? 0) / timedMs) * 100) / 100]),
  ) as Cores;
  const points = await countRows(db, 'points');
  const expected = rows + minutes.length * ctx.specs.length * 60;
  if (points !== expected) throw new Error(`points holds ${points} rows, expected ${expected}`);
  const fresh = await db.one<{ n: number }>(
    'SELECT coalesce(sum(count), 0)::bigint AS n FROM rollup_1m WHERE bucket >= $1',
    [new Date(t0)],
  );
  if (fresh.n !== minutes.length * ctx.specs.length * 60)
    throw new Error(`rollup_1m counts ${fresh.n} points in the new minutes`);
  return {
    label,
    historyRows: rows,
    historyRollupRows,
    fillMs,
    minuteMs,
    rollupSqlMs,
    commitMs,
    medianMs: median(minuteMs),
    medianRollupSqlMs: median(rollupSqlMs),
    medianCommitMs: median(commitMs),
    cpu,
    timedMs,
  };
}

async function stageMinute(ctx: Ctx): Promise<MinuteFigures> {
  const { opts, specs } = ctx;
  const batchPoints = ctx.flushDefaults.readEntries * ENTRY_POINTS;
  // New minutes right after the history: minute 0 warms up, then opts.reps timed ones.
  const t0 = alignDown(Date.now(), MINUTE) - (opts.reps + 3) * MINUTE;
  progress(
    `minute: encoding ${opts.reps + 1} minutes × ${int(specs.length * 60)} points as buffer entries (untimed)`,
  );
  const minutes: DecodedEntry[][][] = [];
  let jsMs: number[] = [];
  for (let m = 0; m <= opts.reps; m++) {
    const data = timeline(specs, opts.seed + 100 + m, t0 + m * MINUTE, SECOND, 60);
    const minute = batches(decodedEntries(data), ctx.flushDefaults.readEntries);
    minutes.push(minute);
    // The per-minute aggregation PointStore.write runs in JS, timed apart on the same rows.
    const perBatch = batches(
      Array.from({ length: data.n }, (_, i) => i),
      batchPoints,
    );
    const started = performance.now();
    for (const idx of perBatch) {
      const from = idx[0] as number;
      const to = from + idx.length;
      aggregateMinutes({
        seriesId: Array.from(data.seriesIndex.subarray(from, to), (s) => ctx.ids[s] as number),
        ts: data.ts.subarray(from, to),
        value: data.value.subarray(from, to),
      });
    }
    jsMs.push(performance.now() - started);
  }
  jsMs = jsMs.slice(1); // the first ran cold
  const small = await minuteCase(ctx, 'small', opts.smallRows, t0, minutes);
  const large = await minuteCase(ctx, 'large', opts.largeRows, t0, minutes);
  await emptyTables(ctx.db);
  const ratio = large.medianMs / small.medianMs;
  progress(
    `minute: median ${fixed(small.medianMs, 0)} ms (small) vs ${fixed(large.medianMs, 0)} ms (large): ${fixed(ratio, 2)}`,
  );
  return {
    small,
    large,
    ratio,
    pointsPerMinute: specs.length * 60,
    writesPerMinute: (minutes[0] as DecodedEntry[][]).length,
    jsAggregateMs: median(jsMs),
  };
}

// ---------------------------------------------------------------------------------------------
// Stage 3: rollup_1h for a week of rollup_1m rows

interface HourFigures {
  days: number;
  rollup1mRows: number;
  hours: number;
  rollup1hRows: number;
  fillMs: number;
  vacuumMs: number;
  ms: number;
  rowsPerSec: number;
  cpu: Cores;
  keysPerMinuteSketch: number;
  keysPerHourSketch: number;
  rollup1mMb: number;
}

/**
 * Minute sketches as a flush builds them (60 values through sketch.add): SKETCH_FAMILIES value
 * levels × SKETCH_VARIANTS spreads, 3–8 keys each. A series keeps to one family, so its hour
 * merges overlapping keys as a real series' does.
 */
function sketchTemplates(seed: number) {
  const rand = prng(seed);
  const t = {
    id: [] as number[],
    sum: [] as number[],
    min: [] as number[],
    max: [] as number[],
    last: [] as number[],
    sketch: [] as string[],
    keys: [] as number[],
  };
  for (let f = 0; f < SKETCH_FAMILIES; f++) {
    const level = 10 ** (-1 + (6 * f) / SKETCH_FAMILIES);
    for (let v = 0; v < SKETCH_VARIANTS; v++) {
      // Relative spread 0.8 %–2.5 % gives 3 to 8 keys of 1 % buckets for 60 values; the few
      // draws outside that are drawn again.
      const spread = 0.008 + (0.017 * (v % 16)) / 15;
      const centre = level * (1 + 0.05 * normal(rand));
      let sketch: Sketch = {};
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      let last = 0;
      for (let attempt = 0; attempt < 100; attempt++) {
        sketch = {};
        sum = 0;
        min = Infinity;
        max = -Infinity;
        for (let i = 0; i < 60; i++) {
          const x = centre * (1 + spread * normal(rand));
          add(sketch, x);
          sum += x;
          min = Math.min(min, x);
          max = Math.max(max, x);
          last = x;
        }
        const keys = Object.keys(sketch).length;
        if (keys >= 3 && keys <= 8) break;
      }
      t.id.push(f * SKETCH_VARIANTS + v);
      t.sum.push(sum);
      t.min.push(min);
      t.max.push(max);
      t.last.push(last);
      t.sketch.push(JSON.stringify(sketch));
      t.keys.push(Object.keys(sketch).length);
    }
  }
  return t;
}

async function stageHour(ctx: Ctx): Promise<HourFigures> {
  const { db, opts } = ctx;
  const days = opts.days;
  await emptyTables(db);
  const templates = sketchTemplates(opts.seed + 3);
  const keysPerMinuteSketch = templates.keys.reduce((a, b) => a + b, 0) / templates.keys.length;
  // A week of closed hours ending an hour ago: every hour is one the aggregate job may build.
  const end = alignDown(Date.now(), HOUR) - HOUR;
  const start = end - days * DAY;
  const total = days * 1_440 * ctx.specs.length;
  progress(
    `hour: generating ${int(total)} rollup_1m rows (${days} d × 1,440 min × ${int(ctx.specs.length)} series; sketches of ${fixed(keysPerMinuteSketch, 1)} keys on average), untimed`,
  );
  const fill = `
    WITH t AS (
      SELECT * FROM unnest($1::int[], $2::float8[], $3::float8[], $4::float8[], $5::float8[],
                           $6::jsonb[]) AS t(id, sum, min, max, last, sketch)
    ), s AS (
      SELECT id, ord::int AS ord FROM unnest($7::bigint[]) WITH ORDINALITY AS s(id, ord)
    )
    INSERT INTO rollup_1m (series_id, bucket, count, sum, min, max, last, last_ts, sketch)
    SELECT s.id, $8::timestamptz + m * interval '1 minute', 60, t.sum, t.min, t.max, t.last,
           $8::timestamptz + m * interval '1 minute' + interval '59 seconds', t.sketch
    FROM generate_series($9::int, $10::int) AS m
    CROSS JOIN s
    JOIN t ON t.id = (s.ord % ${SKETCH_FAMILIES}) * ${SKETCH_VARIANTS} + (m * 37 + s.ord) % ${SKETCH_VARIANTS}`;
  const filled = performance.now();
  // A day per statement, two statements at a time (two cores).
  let nextDay = 0;
  let doneDays = 0;
  const worker = async () => {
    for (;;) {
      const d = nextDay++;
      if (d >= days) return;
      await db.none(fill, [
        templates.id,
        templates.sum,
        templates.min,
        templates.max,
        templates.last,
        templates.sketch,
        ctx.ids,
        new Date(start),
        d * 1_440,
        d * 1_440 + 1_439,
      ]);
      doneDays += 1;
      progress(
        `hour: ${doneDays} / ${days} days of rollup_1m rows generated (${fixed((performance.now() - filled) / 1_000, 1)} s)`,
      );
    }
  };
  await Promise.all([worker(), worker()]);
  const fillMs = performance.now() - filled;
  // A week-old table has been vacuumed (visibility map, hint bits) and analysed.
  const vacuumed = performance.now();
  await db.none('VACUUM (ANALYZE) rollup_1m');
  const vacuumMs = performance.now() - vacuumed;
  const rollup1mRows = await countRows(db, 'rollup_1m');
  if (rollup1mRows !== total) throw new Error(`rollup_1m holds ${rollup1mRows}, not ${total}`);
  const rollup1mMb =
    (await db.one<{ b: number }>("SELECT pg_total_relation_size('rollup_1m')::bigint AS b")).b /
    1_048_576;
  await db.none(
    `INSERT INTO rollup_dirty_hours (bucket)
     SELECT generate_series($1::timestamptz, $2::timestamptz, interval '1 hour')`,
    [new Date(start), new Date(end - HOUR)],
  );
  progress(
    `hour: ${int(rollup1mRows)} rows (${int(rollup1mMb)} MB) in ${fixed(fillMs / 1_000, 1)} s, vacuumed in ${fixed(vacuumMs / 1_000, 1)} s; ${days * 24} hours dirty; running aggregate()`,
  );

  await db.none('CHECKPOINT');
  const cpu0 = snapshot(ctx);
  const started = performance.now();
  let hours = 0;
  let rows = 0;
  const stopProgress = every(
    5_000,
    async () => {
      const left = await countRows(db, 'rollup_dirty_hours');
      progress(`hour: ${days * 24 - left} / ${days * 24} hours taken`);
    },
    'progress',
  );
  try {
    // aggregate() works for at most a minute per call (an hour per transaction); call until done.
    for (;;) {
      const r = await aggregate({ db, log: ctx.log }, { reason: 'manual' });
      hours += r.hours;
      rows += r.rows;
      if (r.hours === 0) break;
    }
  } finally {
    await stopProgress();
  }
  const ms = performance.now() - started;
  const cpu = cpuCores(cpu0, snapshot(ctx), ms);
  if (hours !== days * 24 || rows !== days * 24 * ctx.specs.length)
    throw new Error(`aggregate built ${hours} hours, ${rows} rows`);
  const check = await db.one<{ m: number; h: number; keys: number }>(
    `SELECT (SELECT sum(count) FROM rollup_1m)::bigint AS m, (SELECT sum(count) FROM rollup_1h)::bigint AS h,
            (SELECT avg((SELECT count(*) FROM jsonb_object_keys(sketch))) FROM rollup_1h)::float8 AS keys`,
  );
  if (check.m !== check.h)
    throw new Error(`rollup_1h counts ${check.h} points, rollup_1m ${check.m}`);
  await emptyTables(db);
  progress(`hour: ${hours} hours, ${int(rows)} rollup_1h rows in ${seconds(ms)} s`);
  return {
    days,
    rollup1mRows,
    hours,
    rollup1hRows: rows,
    fillMs,
    vacuumMs,
    ms,
    rowsPerSec: (rollup1mRows * 1_000) / ms,
    cpu,
    keysPerMinuteSketch,
    keysPerHourSketch: check.keys,
    rollup1mMb,
  };
}

// ---------------------------------------------------------------------------------------------
// Stage 4: sketch percentiles against percentile_disc

interface ErrorStats {
  max: number;
  median: number;
}

interface AccuracyGroup {
  query: 'summary' | 'trend';
  range: string;
  resolution: string;
  /** What each comparison is: per metric (summary) or per series and bucket (trend). */
  unit: string;
  comparisons: number;
  countMismatches: number;
  p95: ErrorStats;
  p99: ErrorStats;
}

interface Worst {
  query: string;
  range: string;
  key: string;
  quantile: string;
  exact: number;
  estimate: number;
  errorPct: number;
}

interface AccuracyFigures {
  series: number;
  sampleSeries: number;
  points: number;
  writeMs: number;
  aggregateHours: number;
  groups: AccuracyGroup[];
  all: { comparisons: number; p95: ErrorStats; p99: ErrorStats; max: number; median: number };
  worst: Worst | null;
  countMismatches: number;
}

interface Exact {
  n: number;
  p95: number;
  p99: number;
}

function relErrPct(estimate: number, exact: number): number {
  if (estimate === exact) return 0;
  if (exact === 0) return Infinity;
  return (Math.abs(estimate - exact) / Math.abs(exact)) * 100;
}

async function stageAccuracy(ctx: Ctx): Promise<AccuracyFigures> {
  const { db, opts } = ctx;
  await emptyTables(db);
  const specs = ctx.specs.slice(0, opts.accuracySeries);
  const idOf = new Map(specs.map((s, i) => [s.def.fingerprint, ctx.ids[i] as number]));
  const dataEnd = alignDown(Date.now(), MINUTE);
  const steps = (ACCURACY_HOURS * HOUR) / ACCURACY_INTERVAL_MS;
  const data = timeline(
    specs,
    opts.seed + 4,
    dataEnd - ACCURACY_HOURS * HOUR,
    ACCURACY_INTERVAL_MS,
    steps,
  );
  progress(
    `accuracy: writing ${int(data.n)} points (${int(specs.length)} series, one per ${ACCURACY_INTERVAL_MS / SECOND} s over ${ACCURACY_HOURS} h) through PointStore.write`,
  );
  const store = new PointStore(db);
  const written = performance.now();
  for (const batch of batches(decodedEntries(data), ctx.flushDefaults.readEntries)) {
    await store.write(batch);
  }
  const writeMs = performance.now() - written;
  // The aggregate job builds rollup_1h for the closed hours; the open hour stays dirty.
  const agg = await aggregate({ db, log: ctx.log }, { reason: 'manual' });
  progress(
    `accuracy: written in ${seconds(writeMs)} s; rollup_1h built for ${agg.hours} closed hours`,
  );

  // Ranges: 24 h and 1 h ending 13 minutes before the data ends (so neither edge is on an hour:
  // whole clean hours come from rollup_1h, the edges and the open hour from rollup_1m), and one
  // whole clean hour (rollup_1h only).
  let e = dataEnd - 13 * MINUTE;
  if (e % HOUR === 0) e -= MINUTE;
  const wholeHour = alignDown(e, HOUR) - HOUR;
  const ranges = [
    { name: '1 h', from: e - HOUR, to: e, trendRes: 5 * MINUTE },
    { name: '1 h, whole clock hour', from: wholeHour, to: wholeHour + HOUR, trendRes: HOUR },
    { name: '24 h', from: e - DAY, to: e, trendRes: HOUR },
  ];
  const step = specs.length / opts.sampleSeries;
  const sample = Array.from(
    { length: opts.sampleSeries },
    (_, i) => specs[Math.floor(i * step)] as SeriesSpec,
  );
  const sampleIds = sample.map((s) => idOf.get(s.def.fingerprint) as number);

  const groups: AccuracyGroup[] = [];
  const all95: number[] = [];
  const all99: number[] = [];
  let worst: Worst | null = null;
  const compare = (
    group: { query: 'summary' | 'trend'; range: string; e95: number[]; e99: number[] },
    key: string,
    exact: Exact,
    est: Stats | undefined,
  ) => {
    if (!est || est.count !== exact.n) {
      progress(
        `accuracy: ${group.query} ${group.range} ${key}: count ${est?.count ?? 'missing'}, exact ${exact.n}`,
      );
      return 1;
    }
    for (const [q, x, y, into] of [
      ['p95', exact.p95, est.p95, group.e95],
      ['p99', exact.p99, est.p99, group.e99],
    ] as const) {
      const err = relErrPct(y, x);
      into.push(err);
      (q === 'p95' ? all95 : all99).push(err);
      if (!worst || err > worst.errorPct)
        worst = {
          query: group.query,
          range: group.range,
          key,
          quantile: q,
          exact: x,
          estimate: y,
          errorPct: err,
        };
    }
    return 0;
  };
  const stats = (xs: number[]): ErrorStats => ({
    max: xs.length ? Math.max(...xs) : NaN,
    median: median(xs),
  });

  for (const r of ranges) {
    const from = new Date(r.from);
    const to = new Date(r.to);
    // summary(): every metric over the range, all its series merged.
    const exactByMetric = await db.manyOrNone<Exact & { metric_name: string }>(
      `SELECT s.metric_name, count(*)::int AS n,
              percentile_disc(0.95) WITHIN GROUP (ORDER BY p.value) AS p95,
              percentile_disc(0.99) WITHIN GROUP (ORDER BY p.value) AS p99
       FROM points p JOIN series s ON s.id = p.series_id
       WHERE p.ts >= $1 AND p.ts < $2 GROUP BY 1`,
      [from, to],
    );
    const got = new Map(
      (await summary(db, { from: r.from, to: r.to })).map((m) => [m.metric_name, m]),
    );
    const sg = {
      query: 'summary' as const,
      range: r.name,
      e95: [] as number[],
      e99: [] as number[],
    };
    let sMismatch = 0;
    for (const x of exactByMetric)
      sMismatch += compare(sg, x.metric_name, x, got.get(x.metric_name));
    if (got.size !== exactByMetric.length) sMismatch += Math.abs(got.size - exactByMetric.length);
    groups.push({
      query: 'summary',
      range: r.name,
      resolution: 'whole range',
      unit: 'metric',
      comparisons: exactByMetric.length,
      countMismatches: sMismatch,
      p95: stats(sg.e95),
      p99: stats(sg.e99),
    });

    // trend(): each sampled series alone (tag filter), in buckets of the range's resolution.
    const res = r.trendRes / SECOND;
    const exactBuckets = await db.manyOrNone<Exact & { series_id: number; t: number }>(
      `SELECT p.series_id, (floor(extract(epoch FROM p.ts) / $3) * $3)::float8 AS t, count(*)::int AS n,
              percentile_disc(0.95) WITHIN GROUP (ORDER BY p.value) AS p95,
              percentile_disc(0.99) WITHIN GROUP (ORDER BY p.value) AS p99
       FROM points p
       WHERE p.series_id = ANY($4::bigint[]) AND p.ts >= $1 AND p.ts < $2
       GROUP BY 1, 2`,
      [from, to, res, sampleIds],
    );
    const tg = { query: 'trend' as const, range: r.name, e95: [] as number[], e99: [] as number[] };
    let tMismatch = 0;
    let comparisons = 0;
    for (const [i, spec] of sample.entries()) {
      const points = await trend(db, {
        metric: spec.def.metricName,
        from: r.from,
        to: r.to,
        resolutionMs: r.trendRes,
        tags: { hostname: spec.host },
      });
      const byT = new Map(points.map((p) => [Date.parse(p.t) / SECOND, p]));
      const mine = exactBuckets.filter((b) => b.series_id === sampleIds[i]);
      for (const b of mine) {
        comparisons += 1;
        tMismatch += compare(
          tg,
          `${spec.def.metricName}{hostname=${spec.host}} @ ${new Date(b.t * SECOND).toISOString()}`,
          b,
          byT.get(b.t),
        );
      }
      if (points.length !== mine.length) tMismatch += Math.abs(points.length - mine.length);
    }
    groups.push({
      query: 'trend',
      range: r.name,
      resolution: r.trendRes % HOUR === 0 ? `${r.trendRes / HOUR} h` : `${r.trendRes / MINUTE} min`,
      unit: 'series × bucket',
      comparisons,
      countMismatches: tMismatch,
      p95: stats(tg.e95),
      p99: stats(tg.e99),
    });
    progress(
      `accuracy: ${r.name}: ${exactByMetric.length} metrics, ${comparisons} trend buckets compared`,
    );
  }
  await emptyTables(db);
  const both = [...all95, ...all99];
  const countMismatches = groups.reduce((n, g) => n + g.countMismatches, 0);
  return {
    series: specs.length,
    sampleSeries: sample.length,
    points: data.n,
    writeMs,
    aggregateHours: agg.hours,
    groups,
    all: {
      comparisons: all95.length,
      p95: stats(all95),
      p99: stats(all99),
      max: both.length ? Math.max(...both) : NaN,
      median: median(both),
    },
    worst,
    countMismatches,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Figures {
  baseline?: BaselineFigures;
  flush?: FlushFigures;
  minute?: MinuteFigures;
  hour?: HourFigures;
  accuracy?: AccuracyFigures;
}

const ROLLUPS_OFF =
  'not measurable without changing src/: PointStore.write always updates rollup_1m (no setting turns it off)';

function waitText(fl: FlushFigures): string {
  const parts = Object.entries(fl.waits)
    .filter(([, n]) => n / fl.busySamples >= 0.01)
    .slice(0, 3)
    .map(([w, n]) => `${w} ${int((100 * n) / fl.busySamples)}%`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function goalsOf(f: Figures): Goal[] {
  const goals: Goal[] = [];
  if (f.flush)
    goals.push({
      name: 'flush with rollup_1m / raw COPY',
      target: `≥ ${fixed(GOALS.flushRatio, 2)}`,
      actual: fixed(f.flush.ratio, 2),
      pass: f.flush.ratio >= GOALS.flushRatio,
    });
  if (f.minute)
    goals.push({
      name: 'new minute, large history / small history',
      target: `≤ ${fixed(GOALS.minuteRatio, 2)}`,
      actual: fixed(f.minute.ratio, 2),
      pass: f.minute.ratio <= GOALS.minuteRatio,
    });
  if (f.accuracy)
    goals.push({
      name: 'p95/p99 max relative error',
      target: `≤ ${GOALS.maxErrorPct} %`,
      actual: pct(f.accuracy.all.max),
      pass: f.accuracy.all.max <= GOALS.maxErrorPct && f.accuracy.countMismatches === 0,
    });
  return goals;
}

function tables(f: Figures, goals: Goal[], series: number) {
  const verdict = (name: string) => {
    const g = goals.find((x) => x.name === name);
    return g ? (g.pass ? 'pass' : 'FAIL') : '—';
  };
  const main: string[][] = [];
  if (f.flush && f.baseline) {
    main.push([
      `Flush with rollup_1m (Redis → PG, ${f.flush.concurrency} concurrent)`,
      `${int(f.flush.pointsPerSec)} points/s`,
      `raw COPY (${BASELINE_TEXT[f.baseline.used]}): ${int(f.baseline.rowsPerSec)} rows/s`,
      fixed(f.flush.ratio, 2),
      `≥ ${fixed(GOALS.flushRatio, 2)}`,
      verdict('flush with rollup_1m / raw COPY'),
    ]);
    main.push(['Flush with rollups disabled', 'not measurable', '—', '—', '—', '—']);
  }
  if (f.minute) {
    const m = f.minute;
    main.push([
      `One new minute (${int(m.pointsPerMinute)} points), ${int(m.large.historyRows)} rows stored`,
      `${fixed(m.large.medianMs, 0)} ms`,
      `${int(m.small.historyRows)} rows stored: ${fixed(m.small.medianMs, 0)} ms`,
      fixed(m.ratio, 2),
      `≤ ${fixed(GOALS.minuteRatio, 2)}`,
      verdict('new minute, large history / small history'),
    ]);
  }
  if (f.hour) {
    const h = f.hour;
    main.push([
      `Build rollup_1h: ${h.days} d × ${int(series)} series (${int(h.rollup1mRows)} rollup_1m rows)`,
      `${fixed(h.ms / 1_000, 1)} s, ${int(h.rowsPerSec)} rows/s`,
      '—',
      '—',
      '—',
      'info',
    ]);
  }
  if (f.accuracy) {
    const a = f.accuracy;
    main.push([
      `p95/p99 relative error, summary() + trend() (${int(a.all.comparisons)} × 2)`,
      `max ${pct(a.all.max)}, median ${pct(a.all.median)}`,
      'percentile_disc over the raw rows',
      '—',
      `max ≤ ${GOALS.maxErrorPct} %`,
      verdict('p95/p99 max relative error'),
    ]);
  }
  const mainTable = {
    header: ['Measure', 'Value', 'Baseline (same run)', 'Ratio', 'Goal', 'Result'],
    right: [3],
    rows: main,
  };

  const out: { title: string; header: string[]; right: number[]; rows: string[][] }[] = [];
  if (f.flush && f.baseline) {
    const b = f.baseline;
    const fl = f.flush;
    const copyRow = (kind: BaselineKind) => [
      BASELINE_LABEL[kind],
      int(fl.points),
      seconds(b[kind].ms),
      int(b[kind].rowsPerSec),
      fixed(b[kind].rowsPerSec / b.rowsPerSec, 2),
      '—',
      kind === b.used ? 'baseline' : '—',
    ];
    const share = (ms: number) => `${int((100 * ms) / fl.writeMs)}%`;
    const loopShare = (ms: number) => `${int((100 * ms) / fl.loopMs)}%`;
    out.push({
      title: 'Flush',
      header: ['Stage', 'Points', 'Time (s)', 'Points/s', 'vs COPY', 'Goal', 'Result'],
      right: [1, 2, 3, 4],
      rows: [
        copyRow('single'),
        copyRow('parallel'),
        [
          `Flush with rollup_1m (${fl.concurrency} concurrent)`,
          int(fl.points),
          seconds(fl.ms),
          int(fl.pointsPerSec),
          fixed(fl.ratio, 2),
          `≥ ${fixed(GOALS.flushRatio, 2)}`,
          verdict('flush with rollup_1m / raw COPY'),
        ],
        ['Flush with rollups disabled', '—', '—', '—', '—', '—', 'n/a'],
      ],
    });
    out.push({
      title: 'Flush detail',
      header: ['Flush detail', 'Value'],
      right: [],
      rows: [
        [
          'Loop time inside read / write / ack (overlapping)',
          `${loopShare(fl.readMs)} / ${loopShare(fl.writeMs)} / ${loopShare(fl.ackMs)}`,
        ],
        [
          'Write time inside rollup_1m append + dirty mark / COMMIT',
          `${share(fl.rollupSqlMs)} / ${share(fl.commitMs)}`,
        ],
        ['Active flush connections waiting, by wait event (sampled)', waitText(fl)],
        [
          'Transactions (points each at most), rollup_1m rows written',
          `${int(fl.batches)} (${int(fl.readEntries * ENTRY_POINTS)}), ${int(fl.rollupRows)} rows`,
        ],
      ],
    });
  }
  if (f.minute) {
    const m = f.minute;
    const row = (c: MinuteCase) => [
      `${int(c.historyRows)} rows stored`,
      int(c.historyRollupRows),
      fixed(c.medianMs, 0),
      `${fixed(Math.min(...c.minuteMs), 0)} – ${fixed(Math.max(...c.minuteMs), 0)}`,
      fixed(c.medianRollupSqlMs, 0),
      fixed(c.medianCommitMs, 0),
      fixed(c.medianMs / m.small.medianMs, 2),
      c.label === 'large' ? `≤ ${fixed(GOALS.minuteRatio, 2)}` : '—',
      c.label === 'large' ? verdict('new minute, large history / small history') : 'baseline',
    ];
    out.push({
      title: 'New minute',
      header: [
        `New minute (${int(m.pointsPerMinute)} points, ${m.writesPerMinute} writes)`,
        'rollup_1m rows',
        'Median (ms)',
        'Min – max (ms)',
        'Rollup SQL (ms)',
        'COMMIT (ms)',
        'vs small',
        'Goal',
        'Result',
      ],
      right: [1, 2, 3, 4, 5, 6],
      rows: [row(m.small), row(m.large)],
    });
  }
  if (f.hour) {
    const h = f.hour;
    out.push({
      title: 'rollup_1h',
      header: [
        'Build rollup_1h',
        'rollup_1m rows',
        'Size (MB)',
        'Hours',
        'rollup_1h rows',
        'Keys per sketch, 1 min → 1 h',
        'Time (s)',
        'rollup_1m rows/s',
      ],
      right: [1, 2, 3, 4, 5, 6, 7],
      rows: [
        [
          `${h.days} d × ${int(series)} series, all hours dirty`,
          int(h.rollup1mRows),
          int(h.rollup1mMb),
          int(h.hours),
          int(h.rollup1hRows),
          `${fixed(h.keysPerMinuteSketch, 1)} → ${fixed(h.keysPerHourSketch, 1)}`,
          fixed(h.ms / 1_000, 1),
          int(h.rowsPerSec),
        ],
      ],
    });
  }
  if (f.accuracy) {
    const a = f.accuracy;
    const err = (e: ErrorStats) => `${pct(e.max)} / ${pct(e.median)}`;
    out.push({
      title: 'Accuracy',
      header: [
        'Percentiles vs percentile_disc',
        'Range',
        'Buckets',
        'Compared',
        'p95 error max / median',
        'p99 error max / median',
        'Count mismatches',
      ],
      right: [3, 6],
      rows: [
        ...a.groups.map((g) => [
          g.query === 'summary' ? 'summary(), per metric' : 'trend(), per series',
          g.range,
          g.resolution,
          int(g.comparisons),
          err(g.p95),
          err(g.p99),
          int(g.countMismatches),
        ]),
        [
          'All',
          '',
          '',
          int(a.all.comparisons),
          err(a.all.p95),
          err(a.all.p99),
          int(a.countMismatches),
        ],
      ],
    });
  }
  // /proc counts CPU in 10 ms ticks: below a second the averages say nothing.
  const groups: CpuGroup[] = ['bench', 'postgres', 'redis', 'other'];
  const cores = (c: Cores, ms: number) => groups.map((g) => (ms < 1_000 ? '—' : fixed(c[g], 2)));
  const cpuRows: string[][] = [];
  if (f.baseline) {
    cpuRows.push([BASELINE_LABEL.single, ...cores(f.baseline.single.cpu, f.baseline.single.ms)]);
    cpuRows.push([
      BASELINE_LABEL.parallel,
      ...cores(f.baseline.parallel.cpu, f.baseline.parallel.ms),
    ]);
  }
  if (f.flush) cpuRows.push(['Flush with rollup_1m', ...cores(f.flush.cpu, f.flush.ms)]);
  if (f.minute) {
    for (const c of [f.minute.small, f.minute.large])
      cpuRows.push([`New minutes, ${int(c.historyRows)} rows stored`, ...cores(c.cpu, c.timedMs)]);
  }
  if (f.hour) cpuRows.push(['Build rollup_1h', ...cores(f.hour.cpu, f.hour.ms)]);
  out.push({
    title: 'CPU',
    header: ['CPU (cores used)', ...groups],
    right: [1, 2, 3, 4],
    rows: cpuRows,
  });
  return { main: mainTable, details: out };
}

/** Timed stages during which processes outside the benchmark used the cores. */
function noisyStages(f: Figures): string[] {
  const timed: [string, { cpu: Cores }, number][] = [];
  if (f.baseline) {
    timed.push([BASELINE_LABEL.single, f.baseline.single, f.baseline.single.ms]);
    timed.push([BASELINE_LABEL.parallel, f.baseline.parallel, f.baseline.parallel.ms]);
  }
  if (f.flush) timed.push(['flush', f.flush, f.flush.ms]);
  if (f.minute) {
    timed.push(['new minutes (small)', f.minute.small, f.minute.small.timedMs]);
    timed.push(['new minutes (large)', f.minute.large, f.minute.large.timedMs]);
  }
  if (f.hour) timed.push(['rollup_1h build', f.hour, f.hour.ms]);
  return timed.filter(([, x, ms]) => ms >= 1_000 && x.cpu.other > NOISE_CORES).map(([n]) => n);
}

async function writeResults(report: Record<string, unknown>, markdown: string): Promise<void> {
  // Three decimals are plenty for seconds, rates, ratios and percentages.
  // Errors and the values they compare keep every digit: they sit close to the 1 % bound.
  const exact = new Set(['max', 'median', 'errorPct', 'exact', 'estimate']);
  const round = (key: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) && Number.isFinite(v) && !exact.has(key)
      ? Math.round(v * 1_000) / 1_000
      : v;
  await writeResultFiles(RESULTS_JSON, 'Rollups', report, markdown, round);
}

// ---------------------------------------------------------------------------------------------

async function run(opts: Options, res: Resources): Promise<boolean> {
  const suffix = randomBytes(4).toString('hex');
  const database = `pulse_bench_${suffix}`;
  const prefix = `pulse-bench-${suffix}-rollup`;
  res.prefixes.push(prefix);
  progress(
    `server ${redactUrl(opts.databaseUrl)}, Redis ${redactUrl(opts.redisUrl)}; stages ${opts.stages.join(', ')}`,
  );
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

  // FLUSH_* variables from the shell tune the flush (to try settings); defaults otherwise.
  const flushConfig = loadConfig(
    Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('FLUSH_'))),
  ).flush;
  const ctx: Ctx = {
    db,
    dbUrl,
    redis,
    res,
    roles,
    specs,
    ids,
    flushDefaults: {
      concurrency: flushConfig.concurrency,
      readEntries: flushConfig.readEntries,
      claimIdleMs: flushConfig.claimIdleMs,
    },
    log,
    opts,
    database,
    admin,
    adminPid: (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]
      ?.pid as number,
  };

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

  const goals = goalsOf(f);
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Number((os.totalmem() / 1_073_741_824).toFixed(1)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: pgVersion,
    redis: redisVersion,
  };
  const date = new Date().toISOString();
  const t = tables(f, goals, specs.length);
  const noisy = noisyStages(f);
  const noiseNote = `Processes outside the benchmark used more than ${NOISE_CORES} cores during: ${noisy.join(', ')}. The machine was not quiet, so those figures may be off; run again.`;
  const reduced: string[] = [];
  if (opts.days !== 7) reduced.push(`rollup_1h built for ${opts.days} days, not 7 (--days)`);
  if (opts.series !== 1_000) reduced.push(`${opts.series} series, not 1,000 (--series)`);
  if (opts.largeRows !== 10_000_000)
    reduced.push(`large history of ${int(opts.largeRows)} rows, not 10,000,000 (--large-rows)`);
  if (opts.smallRows !== 100_000)
    reduced.push(`small history of ${int(opts.smallRows)} rows, not 100,000 (--small-rows)`);
  if (opts.points !== 1_000_000)
    reduced.push(`flush of ${int(opts.points)} points, not 1,000,000 (--points)`);
  const reducedNote = `Not the default size: ${reduced.join('; ')}.`;

  console.log('');
  console.log(`Rollup benchmark — ${int(specs.length)} series, ${date}`);
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`,
  );
  if (reduced.length > 0) console.log(reducedNote);
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
  if (noisy.length > 0) console.log(`warning: ${noiseNote}`);
  for (const g of goals.filter((x) => !x.pass))
    console.log(`goal missed: ${g.name}: ${g.actual} (goal ${g.target})`);
  const allPass = goals.every((g) => g.pass);

  if (opts.stages.length !== STAGES.length) {
    progress(
      'not every stage ran: bench/results/rollup.json and bench/RESULTS.md left as they were',
    );
    return allPass;
  }
  const b = f.baseline as BaselineFigures;
  const fl = f.flush as FlushFigures;
  const mi = f.minute as MinuteFigures;
  const h = f.hour as HourFigures;
  const a = f.accuracy as AccuracyFigures;
  const copyJson = (r: CopyRun) => ({
    streams: r.streams,
    seconds: r.ms / 1_000,
    rowsPerSec: r.rowsPerSec,
    ratioToBaseline: r.rowsPerSec / b.rowsPerSec,
    cpuCores: r.cpu,
  });
  const caseJson = (c: MinuteCase) => ({
    historyPoints: c.historyRows,
    historyRollup1mRows: c.historyRollupRows,
    fillSeconds: c.fillMs / 1_000,
    medianMs: c.medianMs,
    minuteMs: c.minuteMs,
    medianRollupSqlMs: c.medianRollupSqlMs,
    medianCommitMs: c.medianCommitMs,
    cpuCores: c.cpu,
  });
  const report = {
    benchmark: 'rollup',
    date,
    machine,
    series: specs.length,
    seed: opts.seed,
    options: {
      points: opts.points,
      smallRows: opts.smallRows,
      largeRows: opts.largeRows,
      reps: opts.reps,
      days: opts.days,
      accuracySeries: opts.accuracySeries,
      sampleSeries: opts.sampleSeries,
    },
    reducedSize: reduced,
    setup: {
      flushConcurrency: fl.concurrency,
      flushReadEntries: fl.readEntries,
      bufferEntryPoints: ENTRY_POINTS,
      copyRowsPerChunk: COPY_ROWS_PER_CHUNK,
      notes: [
        'series: 10 metrics × hosts, each metric with its own value distribution; one point per series per second in the flush and new-minute stages, one per 10 s in the accuracy stage',
        'flush baseline: binary COPY of the same rows into points, as one stream and as 2 parallel streams on 2 connections; the faster counts; a CHECKPOINT runs before each timed run',
        'flush: the real flush handler draining a pre-filled Redis buffer with FLUSH_CONCURRENCY loops, after one untimed warm-up batch; rollup SQL and COMMIT times are measured inside PointStore.write through a timing wrapper around its connections',
        `flush with rollups disabled: ${ROLLUPS_OFF}`,
        'new minute: history stored by binary COPY into points and INSERT … SELECT … GROUP BY minute into rollup_1m (empty sketches), then VACUUM ANALYZE; one untimed warm-up minute, then fresh minutes each written by PointStore.write in flush-sized batches, sequentially; a CHECKPOINT before each minute',
        'rollup_1h: rollup_1m rows made by SQL (generate_series × series) with DDSketch sketches built by sketch.add from 60 values each; VACUUM ANALYZE, every hour marked dirty, then aggregate() until no hour is left',
        'accuracy: data written through PointStore.write, rollup_1h built by aggregate() for closed hours; summary() per metric and trend() per sampled series (tag filter) compared with percentile_disc over the raw points of the same range and bucket',
        'cpu: average cores used during the timed part, by process group; "postgres" is the server working for the bench database (backends of other databases count as "other"); "other" is everything else on the machine',
      ],
    },
    noisy,
    results: {
      flush: {
        baseline: {
          used: b.used,
          rowsPerSec: b.rowsPerSec,
          dataMb: b.bytes / 1_048_576,
          single: copyJson(b.single),
          parallel: copyJson(b.parallel),
        },
        withRollups: {
          seconds: fl.ms / 1_000,
          pointsPerSec: fl.pointsPerSec,
          ratioToBaseline: fl.ratio,
          cpuCores: fl.cpu,
          fillSeconds: fl.fillMs / 1_000,
          warmupPoints: fl.warmupPoints,
          batches: fl.batches,
          rollup1mRows: fl.rollupRows,
          loopSecondsSummed: fl.loopMs / 1_000,
          readSeconds: fl.readMs / 1_000,
          writeSeconds: fl.writeMs / 1_000,
          ackSeconds: fl.ackMs / 1_000,
          rollupSqlSeconds: fl.rollupSqlMs / 1_000,
          commitSeconds: fl.commitMs / 1_000,
          activeConnectionSamples: fl.busySamples,
          waitSamples: fl.waits,
        },
        withoutRollups: { measured: false, reason: ROLLUPS_OFF },
      },
      newMinute: {
        pointsPerMinute: mi.pointsPerMinute,
        writesPerMinute: mi.writesPerMinute,
        repetitions: opts.reps,
        small: caseJson(mi.small),
        large: caseJson(mi.large),
        ratioLargeToSmall: mi.ratio,
        jsAggregateMsPerMinute: mi.jsAggregateMs,
      },
      rollup1h: {
        days: h.days,
        rollup1mRows: h.rollup1mRows,
        rollup1mMb: h.rollup1mMb,
        hours: h.hours,
        rollup1hRows: h.rollup1hRows,
        keysPerMinuteSketch: h.keysPerMinuteSketch,
        keysPerHourSketch: h.keysPerHourSketch,
        fillSeconds: h.fillMs / 1_000,
        vacuumSeconds: h.vacuumMs / 1_000,
        seconds: h.ms / 1_000,
        rollup1mRowsPerSec: h.rowsPerSec,
        cpuCores: h.cpu,
      },
      accuracy: {
        series: a.series,
        sampleSeries: a.sampleSeries,
        points: a.points,
        writeSeconds: a.writeMs / 1_000,
        rollup1hHoursBuilt: a.aggregateHours,
        errorsInPercent: true,
        groups: a.groups,
        all: a.all,
        worst: a.worst,
        countMismatches: a.countMismatches,
      },
    },
    goals: Object.fromEntries(
      goals.map((g) => [g.name, { target: g.target, actual: g.actual, pass: g.pass }]),
    ),
    pass: allPass,
  };

  const md = (x: { header: string[]; rows: string[][]; right: number[] }) =>
    markdownTable(x.header, x.rows, x.right);
  const markdown = [
    '## Rollups',
    '',
    '`npm run bench:rollup` — the flush with its rollup_1m update against raw COPY of the same rows;',
    'one new minute with a large history stored against the same minute with a small one; building',
    'rollup_1h for a week; sketch percentiles against `percentile_disc` over the raw rows.',
    '',
    `Run of ${date}: ${int(specs.length)} series on ${machine.cpu} (${machine.cores} cores), Node ${machine.node},`,
    `PostgreSQL ${machine.postgres}, Redis ${machine.redis}.`,
    ...(reduced.length > 0 ? ['', `> ${reducedNote}`] : []),
    '',
    md(t.main),
    '',
    `Flush with rollups disabled: ${ROLLUPS_OFF}.`,
    '',
    ...t.details.flatMap((x) => [md(x), '']),
    ...(a.worst
      ? [
          `Largest error: ${a.worst.query}() over ${a.worst.range}, \`${a.worst.key}\`, ${a.worst.quantile}: ${a.worst.estimate} against exact ${a.worst.exact} (${pct(a.worst.errorPct)}).`,
          '',
        ]
      : []),
    ...(noisy.length > 0 ? [`> ${noiseNote}`, ''] : []),
    'What each measure is: *flush* is the real flush handler (read, decode, series ids, binary COPY,',
    `rollup_1m append and dirty-hour mark, commit, ack) draining a pre-filled Redis buffer with ${fl.concurrency} loops`,
    'in the benchmark process; its baseline is binary COPY of the same rows into `points`, the faster',
    'of one stream and two parallel streams. *One new minute* is one point per series per second',
    `for a minute, written through \`PointStore.write\` in ${mi.writesPerMinute} flush-sized transactions; the median of`,
    `${opts.reps} fresh minutes (after a warm-up minute), with the history stored by binary COPY and its`,
    'rollup_1m rows by SQL. *Rollup SQL* is the time inside the rollup_1m append and dirty-hour',
    `mark statements; the JavaScript per-minute aggregation adds ≈ ${fixed(mi.jsAggregateMs, 0)} ms per minute (timed apart).`,
    '*Build rollup_1h* runs the aggregate job over SQL-generated rollup_1m rows whose sketches are',
    'built by the real sketch code, every hour dirty. *Percentile error* compares `summary()` (per',
    'metric, all series merged) and `trend()` (per sampled series, by tag) over data written',
    `through \`PointStore.write\` (${int(a.series)} series, one point per 10 s) with \`percentile_disc\` over the same`,
    'raw points: whole clean hours come from rollup_1h, range edges and the open hour from rollup_1m.',
    '*CPU* is the average cores used during each timed stage: *postgres* is the server working for the',
    'bench database (with its shared background processes), *other* everything else on the machine,',
    "other databases' backends on the same server included.",
    '',
  ].join('\n');
  await writeResults(report, markdown);
  console.log(`wrote ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`);
  return allPass;
}

void benchMain('bench-rollup', USAGE, parseOptions, run, 'COPY connection');
