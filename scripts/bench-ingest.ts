// Ingest benchmark: `npm run bench:ingest -- [--points N] [--database-url URL] [--redis-url URL]`.
//
// In one run, on one throw-away database (pulse_bench_<random>) and random Redis prefixes:
//   1. baseline  raw COPY of the rows into `points` (same table, same indexes), one stream;
//   2. flush     the real flush handler draining a pre-filled Redis buffer (worker concurrency);
//   3. e2e       the real system (src/main.ts as a child process) fed over HTTP until stored.
// Stages 2 and 3 are reported as ratios to stage 1, so the figures compare across machines.
// Results: a table on stdout, bench/results/ingest.json, and the Ingest section of
// bench/RESULTS.md. Progress goes to stderr. The database and Redis keys are removed at the end,
// also on failure or Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pino } from 'pino';
import { envSchema, loadConfig } from '../src/config.js';
import { createDb, type Db } from '../src/infra/db.js';
import { keysFor } from '../src/infra/keys.js';
import { migrate } from '../src/infra/migrate.js';
import { createRedis, redisAnswers } from '../src/infra/redis.js';
import { flush, type FlushResult } from '../src/jobs/flush.js';
import {
  ENTRY_POINTS,
  PointBuffer,
  type BufferEntry,
  type DecodedEntry,
} from '../src/metrics/buffer.js';
import { ensurePartitions } from '../src/metrics/partitions.js';
import { sql } from '../src/metrics/queries.js';
import { PointStore, type WriteResult } from '../src/metrics/store.js';
import {
  copyChunks,
  cpuCores,
  cpuSnapshot,
  fixed,
  parentPid,
  generateDataset,
  int,
  markdownTable,
  percentile,
  pointsOf,
  replaceSection,
  requestBody,
  textTable,
  type CpuGroup,
  type CpuRoles,
  type Dataset,
} from './bench-lib.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_JSON = path.join(ROOT, 'bench', 'results', 'ingest.json');
const RESULTS_MD = path.join(ROOT, 'bench', 'RESULTS.md');

const APPEND_CHUNK = 10_000; // points per PointBuffer.append while filling (untimed)
const REQUEST_POINTS = 5_000; // points per HTTP request
const HTTP_CONCURRENCY = 4;
const COPY_ROWS_PER_CHUNK = 2_000; // as PointStore streams them
const SPAN_MS = 3 * 3_600_000; // timestamps spread over the last 3 hours
const GOALS = { flushRatio: 0.8, e2eRatio: 0.5, rssMb: 200 };
/** Cores used by processes outside the benchmark above which a stage is flagged as noisy. */
const NOISE_CORES = 0.15;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  points: number;
  databaseUrl: string;
  redisUrl: string;
  seed: number;
  failOnGoal: boolean;
  cold: boolean;
}

const USAGE = `usage: node --import tsx scripts/bench-ingest.ts [options]
  --points N            points to ingest in each stage (default 1000000)
  --database-url URL    PostgreSQL server to create the bench database on
                        (default $DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --redis-url URL       Redis to buffer in (default $REDIS_URL or redis://127.0.0.1:6379)
  --seed N              seed of the synthetic data (default 1)
  --cold                flush stage without its warm-up batch (compiled code, pool, series cache)
  --fail-on-goal        exit 1 when a goal is missed (not only on errors)
  --help`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      points: { type: 'string' },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      seed: { type: 'string' },
      'fail-on-goal': { type: 'boolean' },
      cold: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const whole = (text: string | undefined, fallback: number, name: string, min: number) => {
    if (text === undefined) return fallback;
    const n = /^\d[\d_]*$/.test(text.trim()) ? Number(text.trim().replace(/_/g, '')) : NaN;
    if (!Number.isSafeInteger(n) || n < min)
      throw new UsageError(`--${name}: expected a whole number ≥ ${min}`);
    return n;
  };
  const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);
  return {
    points: whole(values.points, 1_000_000, 'points', 1_000),
    databaseUrl:
      nonEmpty(values['database-url']) ??
      nonEmpty(process.env.DATABASE_URL) ??
      'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl:
      nonEmpty(values['redis-url']) ?? nonEmpty(process.env.REDIS_URL) ?? 'redis://127.0.0.1:6379',
    seed: whole(values.seed, 1, 'seed', 0),
    failOnGoal: values['fail-on-goal'] ?? false,
    cold: values.cold ?? false,
  };
}

class UsageError extends Error {
  override name = 'UsageError';
}

// ---------------------------------------------------------------------------------------------
// Small utilities

const t0 = performance.now();
function progress(message: string): void {
  process.stderr.write(
    `[bench ${((performance.now() - t0) / 1_000).toFixed(1).padStart(6)}s] ${message}\n`,
  );
}

/** Runs `tick` every `ms` until the returned stop() is awaited; a tick never overlaps the next. */
function every(ms: number, tick: () => Promise<void> | void): () => Promise<void> {
  const stop = new AbortController();
  const loop = (async () => {
    while (!stop.signal.aborted) {
      try {
        await sleep(ms, undefined, { signal: stop.signal });
      } catch {
        break; // aborted: stop() was called
      }
      try {
        await tick();
      } catch (err) {
        progress(`(sampler error: ${(err as Error).message})`);
      }
    }
  })();
  return async () => {
    stop.abort();
    await loop;
  };
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True when `pid` is a process on this machine whose name starts with `name`. */
function localProcess(pid: number, name: string): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith(name);
  } catch {
    return false;
  }
}

async function countPoints(db: Db): Promise<number> {
  return (await db.one<{ n: number }>('SELECT count(*)::int AS n FROM points')).n;
}

async function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Everything the run creates, so cleanup can undo it whatever happened.

interface Resources {
  admin?: pg.Client;
  database?: string;
  db?: Db;
  redis?: Redis;
  prefixes: string[];
  child?: ChildProcess;
}

async function stopChild(
  child: ChildProcess,
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null; timedOut: boolean }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode, timedOut: false };
  }
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  child.kill('SIGTERM');
  const first = await Promise.race([exited, sleep(timeoutMs).then(() => null)]);
  if (first) return { ...first, timedOut: false };
  child.kill('SIGKILL');
  return { ...(await exited), timedOut: true };
}

async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

let cleaning: Promise<void> | undefined;
function cleanup(res: Resources): Promise<void> {
  cleaning ??= (async () => {
    const step = async (name: string, run: () => Promise<unknown>) => {
      try {
        await run();
      } catch (err) {
        progress(`cleanup: ${name} failed: ${(err as Error).message}`);
      }
    };
    const { child } = res;
    if (child?.pid !== undefined) {
      await step('stop child', async () => {
        const r = await stopChild(child, 15_000);
        if (r.timedOut) progress(`cleanup: child ${child.pid} ignored SIGTERM; killed`);
      });
    }
    if (res.redis) {
      const redis = res.redis;
      for (const prefix of res.prefixes) {
        await step(`delete Redis keys ${prefix}:*`, async () => {
          const n = await deleteKeys(redis, prefix);
          progress(`cleanup: deleted ${n} Redis keys under ${prefix}:`);
        });
      }
      await step('close Redis', () => redis.quit());
    }
    if (res.db) await step('close pool', () => res.db?.$pool.end() ?? Promise.resolve());
    if (res.admin && res.database) {
      const { admin, database } = res;
      await step(`drop database ${database}`, async () => {
        // pg's pool.end() resolves before its connections have closed; terminating them under
        // it (WITH FORCE) would raise an unhandled error, so give them a moment to go first.
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline) {
          const { rows } = await admin.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
            [database],
          );
          if ((rows[0]?.n ?? 0) === 0) break;
          await sleep(50);
        }
        // A connection still open now (say, one a failed stage left checked out) is terminated;
        // its client then reports 57P01, which is expected here and must not crash the cleanup.
        process.on('uncaughtException', (err: Error & { code?: string }) => {
          if (err.code === '57P01') return;
          throw err;
        });
        await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
        progress(`cleanup: dropped database ${database}`);
      });
    }
    if (res.admin)
      await step('close admin connection', () => res.admin?.end() ?? Promise.resolve());
  })();
  return cleaning;
}

// ---------------------------------------------------------------------------------------------
// Stage 1: raw COPY baseline

type Cores = Record<CpuGroup, number>;

interface CopyFigures {
  ms: number;
  cpu: Cores;
  rowsPerSec: number;
  textBuildMs: number;
  bytes: number;
}

async function stageCopy(
  dbUrl: string,
  db: Db,
  data: Dataset,
  ids: number[],
  roles: CpuRoles,
): Promise<CopyFigures> {
  progress('baseline: building COPY text (untimed)');
  const built = performance.now();
  const chunks = copyChunks(data, ids, COPY_ROWS_PER_CHUNK);
  const textBuildMs = performance.now() - built;
  const bytes = chunks.reduce((sum, c) => sum + c.length, 0);
  progress(
    `baseline: ${int(bytes / 1_048_576)} MB of COPY text in ${chunks.length} chunks; copying`,
  );
  const client = new pg.Client({ connectionString: dbUrl, application_name: 'pulse-bench-copy' });
  await client.connect();
  try {
    await client.query('CHECKPOINT');
    const cpu0 = cpuSnapshot(roles);
    const started = performance.now();
    await pipeline(
      Readable.from(chunks),
      client.query(copyFrom('COPY points (series_id, ts, value) FROM STDIN')),
    );
    const ms = performance.now() - started;
    const cpu = cpuCores(cpu0, cpuSnapshot(roles), ms);
    const stored = await countPoints(db);
    if (stored !== data.n)
      throw new Error(`baseline COPY stored ${stored} rows, expected ${data.n}`);
    await client.query('TRUNCATE points');
    progress(`baseline: ${int(data.n)} rows in ${fixed(ms / 1_000, 2)} s`);
    return { ms, cpu, rowsPerSec: (data.n * 1_000) / ms, textBuildMs, bytes };
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Stage 2: the flush handler draining a full buffer

/** Times the buffer calls the flush handler makes, without changing what they do. */
class TimedBuffer extends PointBuffer {
  readMs = 0;
  ackMs = 0;
  override async read(
    consumer: string,
    count: number,
    claimIdleMs: number,
  ): Promise<BufferEntry[]> {
    const started = performance.now();
    try {
      return await super.read(consumer, count, claimIdleMs);
    } finally {
      this.readMs += performance.now() - started;
    }
  }
  override async ack(entries: BufferEntry[]): Promise<number> {
    const started = performance.now();
    try {
      return await super.ack(entries);
    } finally {
      this.ackMs += performance.now() - started;
    }
  }
}

class TimedStore extends PointStore {
  writeMs = 0;
  override async write(entries: DecodedEntry[]): Promise<WriteResult> {
    const started = performance.now();
    try {
      return await super.write(entries);
    } finally {
      this.writeMs += performance.now() - started;
    }
  }
}

interface FlushFigures {
  ms: number;
  warmupPoints: number;
  cpu: Cores;
  pointsPerSec: number;
  ratio: number;
  fillMs: number;
  concurrency: number;
  readEntries: number;
  batches: number;
  /** Time summed over the concurrent loops, per call the handler makes (the rest is decode). */
  loopMs: number;
  readMs: number;
  writeMs: number;
  ackMs: number;
}

async function stageFlush(
  db: Db,
  redis: Redis,
  prefix: string,
  data: Dataset,
  copy: CopyFigures,
  roles: CpuRoles,
  warmup: boolean,
): Promise<FlushFigures> {
  const defaults = loadConfig({}).flush;
  const buffer = new TimedBuffer(redis, keysFor(prefix), data.n);
  await buffer.ensureGroup();
  const log = pino({ level: 'warn', base: { bench: 'flush' } }, pino.destination(2));
  const store = new TimedStore(db);
  const deps = (consumer: string) => ({
    buffer,
    store,
    log: log.child({ consumer }),
    consumer,
    readEntries: defaults.readEntries,
    claimIdleMs: defaults.claimIdleMs,
  });
  const consumers = Array.from(
    { length: defaults.concurrency },
    (_, i) => `bench:${process.pid}:${i}`,
  );

  // A running worker is warm: its code is compiled, its pool connected, its series ids cached.
  // One untimed batch through the same handler, store and pool gets this one there too.
  let warmupPoints = 0;
  if (warmup) {
    warmupPoints = Math.min(data.n, defaults.readEntries * ENTRY_POINTS);
    progress(`flush: warm-up, one untimed batch of ${int(warmupPoints)} points`);
    for (let i = 0; i < warmupPoints; i += APPEND_CHUNK) {
      await buffer.append(pointsOf(data, i, Math.min(warmupPoints, i + APPEND_CHUNK)));
    }
    await flush(deps(consumers[0] as string), { reason: 'manual' });
    const held = await Promise.all(consumers.map(() => db.connect()));
    for (const c of held) await c.done();
    const left = await buffer.depth();
    if (left !== 0) throw new Error(`warm-up left ${left} points in the buffer`);
    await db.none('TRUNCATE points');
    buffer.readMs = buffer.ackMs = store.writeMs = 0;
  }

  progress(
    `flush: filling the Redis buffer (${int(data.n)} points, ${int(APPEND_CHUNK)} per append, untimed)`,
  );
  const filled = performance.now();
  for (let i = 0; i < data.n; i += APPEND_CHUNK) {
    const r = await buffer.append(pointsOf(data, i, Math.min(data.n, i + APPEND_CHUNK)));
    if (!r.accepted) throw new Error(`buffer refused an append at depth ${r.depth}`);
  }
  const fillMs = performance.now() - filled;
  const depth = await buffer.depth();
  if (depth !== data.n)
    throw new Error(`buffer depth is ${depth} after filling, expected ${data.n}`);
  progress(
    `flush: buffer filled in ${fixed(fillMs / 1_000, 1)} s; draining with ${defaults.concurrency} loops`,
  );

  await db.none('CHECKPOINT');
  const totals: FlushResult = {
    batches: 0,
    points: 0,
    inserted: 0,
    duplicates: 0,
    deadLettered: 0,
    ms: 0,
  };
  let loopMs = 0;
  let ms = 0;
  let cpu: Cores;
  const cpu0 = cpuSnapshot(roles);
  const started = performance.now();
  const stopProgress = every(2_000, async () => {
    const left = await buffer.depth();
    const done = data.n - left;
    const s = (performance.now() - started) / 1_000;
    progress(`flush: ${int(done)} / ${int(data.n)} points stored (${int(done / s)}/s)`);
  });
  try {
    await Promise.all(
      consumers.map(async (consumer) => {
        const loopStarted = performance.now();
        for (;;) {
          const r = await flush(deps(consumer), { reason: 'manual' });
          totals.batches += r.batches;
          totals.points += r.points;
          totals.inserted += r.inserted;
          totals.duplicates += r.duplicates;
          totals.deadLettered += r.deadLettered;
          if (r.batches === 0) break;
        }
        loopMs += performance.now() - loopStarted;
      }),
    );
    ms = performance.now() - started;
    cpu = cpuCores(cpu0, cpuSnapshot(roles), ms);
  } finally {
    await stopProgress();
  }

  const stored = await countPoints(db);
  const left = await buffer.depth();
  if (stored !== data.n || left !== 0 || totals.deadLettered > 0 || totals.duplicates > 0) {
    throw new Error(
      `flush stage stored ${stored} of ${data.n} points (buffer depth ${left}, ` +
        `${totals.deadLettered} dead-lettered, ${totals.duplicates} duplicates)`,
    );
  }
  await db.none('TRUNCATE points');
  const pointsPerSec = (data.n * 1_000) / ms;
  progress(`flush: ${int(data.n)} points in ${fixed(ms / 1_000, 2)} s, ${totals.batches} batches`);
  return {
    ms,
    cpu,
    pointsPerSec,
    ratio: pointsPerSec / copy.rowsPerSec,
    fillMs,
    warmupPoints,
    concurrency: defaults.concurrency,
    readEntries: defaults.readEntries,
    batches: totals.batches,
    loopMs,
    readMs: buffer.readMs,
    writeMs: store.writeMs,
    ackMs: buffer.ackMs,
  };
}

// ---------------------------------------------------------------------------------------------
// Stage 3: end to end over HTTP against the real system

interface E2eFigures {
  ms: number;
  cpu: Cores;
  pointsPerSec: number;
  ratio: number;
  postMs: number;
  acceptPointsPerSec: number;
  drainMs: number;
  requests: number;
  retries503: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  maxBufferDepth: number;
  peakRssMb: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  warnLines: number;
}

/** The child's output, kept short: the last lines, and how many were warnings or worse. */
class OutputTail {
  lines: string[] = [];
  warnLines = 0;
  private partial = '';
  push(chunk: Buffer): void {
    const parts = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (/"level":(4|5|6)\d/.test(line) || !line.startsWith('{'))
        this.warnLines += line.trim() ? 1 : 0;
      this.lines.push(line);
      if (this.lines.length > 200) this.lines.shift();
    }
  }
  show(n: number): string {
    return this.lines.slice(-n).join('\n');
  }
}

async function waitReady(base: string, child: ChildProcess, output: OutputTail): Promise<void> {
  const deadline = Date.now() + 90_000;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `the system exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output.show(30)}`,
      );
    }
    try {
      const r = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3_000) });
      last = `${r.status} ${await r.text()}`;
      if (r.status === 200) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`GET /readyz did not answer 200 within 90 s (last: ${last})\n${output.show(30)}`);
}

async function stageE2e(
  res: Resources,
  db: Db,
  dbUrl: string,
  redisUrl: string,
  prefix: string,
  data: Dataset,
  copy: CopyFigures,
  baseRoles: CpuRoles,
): Promise<E2eFigures> {
  progress(`e2e: serialising ${Math.ceil(data.n / REQUEST_POINTS)} request bodies (untimed)`);
  const bodies: Buffer[] = [];
  for (let i = 0; i < data.n; i += REQUEST_POINTS) {
    bodies.push(Buffer.from(requestBody(data, i, Math.min(data.n, i + REQUEST_POINTS))));
  }

  const port = await freePort();
  // The system runs on its defaults: config variables inherited from this shell are dropped.
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(envSchema.shape)) delete env[name];
  Object.assign(env, {
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl,
    PULSE_PREFIX: prefix,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  });
  progress(`e2e: starting the system (node --import tsx src/main.ts) on port ${port}`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  res.child = child;
  const output = new OutputTail();
  child.stdout?.on('data', (c: Buffer) => output.push(c));
  child.stderr?.on('data', (c: Buffer) => output.push(c));
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the system');
  const base = `http://127.0.0.1:${port}`;
  await waitReady(base, child, output);
  progress(
    `e2e: ready (pid ${pid}); posting ${int(data.n)} points, ${int(REQUEST_POINTS)} per request, ${HTTP_CONCURRENCY} at a time`,
  );

  const monitor = new Redis(redisUrl, {
    connectionName: 'pulse-bench-monitor',
    maxRetriesPerRequest: 2,
  });
  const depthKey = keysFor(prefix).bufferDepth;
  let maxDepth = 0;
  let posted = 0;
  let lastReport = performance.now();
  const stopSampler = every(100, async () => {
    const depth = Number((await monitor.get(depthKey)) ?? 0);
    if (depth > maxDepth) maxDepth = depth;
    if (performance.now() - lastReport >= 2_000) {
      lastReport = performance.now();
      progress(`e2e: ${int(posted)} / ${int(data.n)} points accepted, buffer depth ${int(depth)}`);
    }
  });

  let retries503 = 0;
  const latencies: number[] = [];
  let postMs = 0;
  let ms = 0;
  let drainMs = 0;
  const roles: CpuRoles = { ...baseRoles, system: pid };
  const cpu0 = cpuSnapshot(roles);
  let cpu: Cores;
  try {
    const started = performance.now();
    let next = 0;
    const sender = async () => {
      for (;;) {
        const i = next++;
        const body = bodies[i];
        if (body === undefined) return;
        for (;;) {
          const sent = performance.now();
          const r = await fetch(`${base}/api/v1/metrics`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          const text = await r.text();
          latencies.push(performance.now() - sent);
          if (r.status === 202) {
            posted += Math.min(REQUEST_POINTS, data.n - i * REQUEST_POINTS);
            break;
          }
          if (r.status === 503) {
            retries503 += 1;
            const after = Number(r.headers.get('retry-after'));
            await sleep((Number.isFinite(after) && after > 0 ? after : 1) * 1_000);
            continue;
          }
          throw new Error(`POST /api/v1/metrics answered ${r.status}: ${text.slice(0, 500)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, sender));
    postMs = performance.now() - started;
    progress(`e2e: all points accepted in ${fixed(postMs / 1_000, 2)} s; waiting until stored`);

    // Stored means count(*) = N; the buffer depth (dropped only after commit) says when to look.
    const deadline = Date.now() + Math.max(300_000, data.n);
    let lastCount = 0;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `the system exited (${child.exitCode ?? child.signalCode}) during the run:\n${output.show(30)}`,
        );
      }
      const depth = Number((await monitor.get(depthKey)) ?? 0);
      if (depth === 0 || performance.now() - lastCount > 2_000) {
        const asked = performance.now();
        const stored = await countPoints(db);
        lastCount = performance.now();
        if (stored === data.n) {
          ms = asked - started;
          cpu = cpuCores(cpu0, cpuSnapshot(roles), performance.now() - started);
          break;
        }
        if (stored > data.n)
          throw new Error(`points holds ${stored} rows, more than the ${data.n} sent`);
        progress(`e2e: ${int(stored)} / ${int(data.n)} points stored, buffer depth ${int(depth)}`);
      }
      if (Date.now() > deadline)
        throw new Error(`points not all stored in time:\n${output.show(30)}`);
      await sleep(50);
    }
    drainMs = ms - postMs;
  } finally {
    await stopSampler();
    monitor.disconnect();
  }

  const hwm = await procStatusKb(pid, 'VmHWM');
  progress(`e2e: stored in ${fixed(ms / 1_000, 2)} s; stopping the system with SIGTERM`);
  const stopped = await stopChild(child, 20_000);
  res.child = undefined;
  if (stopped.code !== 0) {
    progress(
      `e2e: the system exited with ${stopped.code ?? stopped.signal}${stopped.timedOut ? ' (killed after 20 s)' : ''}; last output:\n${output.show(30)}`,
    );
  } else if (output.warnLines > 0) {
    progress(
      `e2e: the system logged ${output.warnLines} warning/error line(s); last output:\n${output.show(10)}`,
    );
  }
  latencies.sort((a, b) => a - b);
  const pointsPerSec = (data.n * 1_000) / ms;
  return {
    ms,
    cpu,
    pointsPerSec,
    ratio: pointsPerSec / copy.rowsPerSec,
    postMs,
    acceptPointsPerSec: (data.n * 1_000) / postMs,
    drainMs,
    requests: bodies.length,
    retries503,
    latencyP50Ms: percentile(latencies, 50),
    latencyP99Ms: percentile(latencies, 99),
    maxBufferDepth: maxDepth,
    peakRssMb: hwm === null ? null : hwm / 1_024,
    exitCode: stopped.code,
    exitSignal: stopped.signal,
    warnLines: output.warnLines,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Goal {
  name: string;
  target: string;
  actual: string;
  pass: boolean;
}

function goalsOf(flushF: FlushFigures, e2e: E2eFigures): Goal[] {
  return [
    {
      name: 'flush / COPY',
      target: `≥ ${fixed(GOALS.flushRatio, 2)}`,
      actual: fixed(flushF.ratio, 2),
      pass: flushF.ratio >= GOALS.flushRatio,
    },
    {
      name: 'end to end / COPY',
      target: `≥ ${fixed(GOALS.e2eRatio, 2)}`,
      actual: fixed(e2e.ratio, 2),
      pass: e2e.ratio >= GOALS.e2eRatio,
    },
    {
      name: 'system peak RSS',
      target: `≤ ${GOALS.rssMb} MB`,
      actual: e2e.peakRssMb === null ? 'unknown' : `${fixed(e2e.peakRssMb, 0)} MB`,
      pass: e2e.peakRssMb !== null && e2e.peakRssMb <= GOALS.rssMb,
    },
    {
      name: 'system exits 0 on SIGTERM',
      target: 'exit 0',
      actual: e2e.exitCode === null ? `signal ${e2e.exitSignal}` : `exit ${e2e.exitCode}`,
      pass: e2e.exitCode === 0,
    },
  ];
}

function tables(
  n: number,
  copy: CopyFigures,
  flushF: FlushFigures,
  e2e: E2eFigures,
  goals: Goal[],
) {
  const verdict = (g: Goal | undefined) => (g ? (g.pass ? 'pass' : 'FAIL') : '—');
  const stage = {
    header: ['Stage', 'Points', 'Time (s)', 'Points/s', 'vs COPY', 'Goal', 'Result'],
    right: [1, 2, 3, 4],
    rows: [
      [
        'Raw COPY (baseline)',
        int(n),
        fixed(copy.ms / 1_000, 2),
        int(copy.rowsPerSec),
        '1.00',
        '—',
        '—',
      ],
      [
        'Flush (Redis → PG)',
        int(n),
        fixed(flushF.ms / 1_000, 2),
        int(flushF.pointsPerSec),
        fixed(flushF.ratio, 2),
        goals[0]?.target ?? '',
        verdict(goals[0]),
      ],
      [
        'End to end (HTTP)',
        int(n),
        fixed(e2e.ms / 1_000, 2),
        int(e2e.pointsPerSec),
        fixed(e2e.ratio, 2),
        goals[1]?.target ?? '',
        verdict(goals[1]),
      ],
    ],
  };
  const pct = (x: number) => `${int((100 * x) / flushF.loopMs)}%`;
  const rest = flushF.loopMs - flushF.readMs - flushF.writeMs - flushF.ackMs;
  const detail = {
    header: ['Measure', 'Value', 'Goal', 'Result'],
    right: [],
    rows: [
      [
        'System peak RSS (VmHWM)',
        goals[2]?.actual ?? '',
        goals[2]?.target ?? '',
        verdict(goals[2]),
      ],
      ['System exit on SIGTERM', goals[3]?.actual ?? '', goals[3]?.target ?? '', verdict(goals[3])],
      [
        'Max buffer depth (e2e)',
        `${int(e2e.maxBufferDepth)} points`,
        '—',
        e2e.maxBufferDepth > 0 ? 'buffer grew' : 'stayed empty',
      ],
      ['HTTP accept rate (e2e)', `${int(e2e.acceptPointsPerSec)} points/s`, '—', '—'],
      ['Drain after last POST (e2e)', `${fixed(e2e.drainMs / 1_000, 2)} s`, '—', '—'],
      [
        'POST latency p50 / p99',
        `${int(e2e.latencyP50Ms)} / ${int(e2e.latencyP99Ms)} ms`,
        '—',
        '—',
      ],
      ['503 answers, retried (e2e)', int(e2e.retries503), '—', '—'],
      [
        'Flush time in read / write / ack / decode',
        `${pct(flushF.readMs)} / ${pct(flushF.writeMs)} / ${pct(flushF.ackMs)} / ${pct(rest)}`,
        '—',
        '—',
      ],
    ],
  };
  // /proc counts CPU in 10 ms ticks: below a second the averages say nothing.
  const cores = (c: Cores, ms: number) =>
    [c.bench, c.system, c.postgres, c.redis, c.other].map((x) => (ms < 1_000 ? '—' : fixed(x, 2)));
  const cpu = {
    header: ['CPU (cores used)', 'bench', 'system', 'postgres', 'redis', 'other'],
    right: [1, 2, 3, 4, 5],
    rows: [
      ['Raw COPY (baseline)', ...cores(copy.cpu, copy.ms)],
      ['Flush (Redis → PG)', ...cores(flushF.cpu, flushF.ms)],
      ['End to end (HTTP)', ...cores(e2e.cpu, e2e.ms)],
    ],
  };
  return { stage, detail, cpu };
}

async function writeResults(report: Record<string, unknown>, markdown: string): Promise<void> {
  await mkdir(path.dirname(RESULTS_JSON), { recursive: true });
  // Three decimals are plenty for seconds, rates and ratios.
  const round = (_key: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1_000) / 1_000 : v;
  await writeFile(RESULTS_JSON, `${JSON.stringify(report, round, 2)}\n`);
  let doc: string;
  try {
    doc = await readFile(RESULTS_MD, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    doc = [
      '# Benchmark results',
      '',
      'Absolute figures depend on the machine, so each benchmark measures its own baseline in the',
      'same run, on the same machine and database server, and states its results as ratios to that',
      'baseline; the goals are set on those ratios. Raw figures are kept for context only.',
      'Each section is rewritten by the benchmark that owns it; machine-readable results are in',
      '`bench/results/`.',
      '',
    ].join('\n');
  }
  await writeFile(RESULTS_MD, replaceSection(doc, 'Ingest', markdown));
}

// ---------------------------------------------------------------------------------------------

async function run(opts: Options, res: Resources): Promise<boolean> {
  const suffix = randomBytes(4).toString('hex');
  const database = `pulse_bench_${suffix}`;
  const flushPrefix = `pulse-bench-${suffix}-flush`;
  const e2ePrefix = `pulse-bench-${suffix}-e2e`;
  res.prefixes.push(flushPrefix, e2ePrefix);

  progress(
    `server ${redactUrl(opts.databaseUrl)}, Redis ${redactUrl(opts.redisUrl)}, ${int(opts.points)} points`,
  );
  if (!(await redisAnswers(opts.redisUrl, 3_000))) {
    throw new Error(`Redis at ${redactUrl(opts.redisUrl)} does not answer PING`);
  }
  res.admin = new pg.Client({
    connectionString: opts.databaseUrl,
    application_name: 'pulse-bench-admin',
  });
  await res.admin.connect();
  await res.admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  res.database = database;
  const dbUrl = withDatabase(opts.databaseUrl, database);
  progress(`created database ${database}; Redis prefixes ${flushPrefix}, ${e2ePrefix}`);

  const db = createDb(dbUrl, 10, 'pulse-bench');
  res.db = db;
  const quiet = pino({ level: 'warn' }, pino.destination(2));
  await migrate(db, quiet);
  await ensurePartitions(db);
  const redis = createRedis(opts.redisUrl, 'pulse-bench', 'command');
  res.redis = redis;
  redis.on('error', (err) => progress(`redis: ${err.message}`));

  const pgVersion = (await db.one<{ v: string }>("SELECT current_setting('server_version') AS v"))
    .v;
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';

  progress(`generating ${int(opts.points)} points (seed ${opts.seed})`);
  const data = generateDataset(opts.points, opts.seed, Date.now(), SPAN_MS);

  // Series rows first (untimed): every stage then meets existing series, as a running system does.
  await db.none(sql.seriesInsert, [
    data.series.map((s) => s.fingerprint),
    data.series.map((s) => s.metricName),
    data.series.map((s) => s.sourceAgentId),
    data.series.map((s) => s.instanceId),
    data.series.map((s) => s.tagsJson),
  ]);
  const idRows = await db.many<{ id: number; fingerprint: string }>(sql.seriesIds, [
    data.series.map((s) => s.fingerprint),
  ]);
  const idOf = new Map(idRows.map((r) => [r.fingerprint, r.id]));
  const ids = data.series.map((s) => {
    const id = idOf.get(s.fingerprint);
    if (id === undefined) throw new Error(`series ${s.fingerprint} has no id`);
    return id;
  });

  // Whose CPU is whose: PostgreSQL's postmaster (parent of our backend) and redis-server, when
  // they run on this machine; everything not ours counts as "other" (a shared machine's noise).
  const backend = (await db.one<{ pid: number }>('SELECT pg_backend_pid() AS pid')).pid;
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? NaN);
  const roles: CpuRoles = { bench: process.pid };
  if (localProcess(backend, 'postgres')) roles.postgres = parentPid(backend) ?? undefined;
  if (localProcess(redisPid, 'redis')) roles.redis = redisPid;

  const copy = await stageCopy(dbUrl, db, data, ids, roles);
  const flushF = await stageFlush(db, redis, flushPrefix, data, copy, roles, !opts.cold);
  const e2e = await stageE2e(res, db, dbUrl, opts.redisUrl, e2ePrefix, data, copy, roles);

  const goals = goalsOf(flushF, e2e);
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
  const t = tables(opts.points, copy, flushF, e2e, goals);

  console.log('');
  console.log(
    `Ingest benchmark — ${int(opts.points)} points, ${data.series.length} series, ${date}`,
  );
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`,
  );
  console.log('');
  for (const table of [t.stage, t.detail, t.cpu]) {
    console.log(textTable(table.header, table.rows, table.right));
    console.log('');
  }
  const noisy = [copy, flushF, e2e].some((x) => x.ms >= 1_000 && x.cpu.other > NOISE_CORES);
  const noiseNote = `Processes outside the benchmark used more than ${NOISE_CORES} cores during a stage: the machine was not quiet, so the ratios may be off; run again.`;
  if (noisy) console.log(`warning: ${noiseNote}\n`);

  const report = {
    benchmark: 'ingest',
    date,
    machine,
    points: opts.points,
    series: data.series.length,
    seed: opts.seed,
    setup: {
      timestampsSpanHours: SPAN_MS / 3_600_000,
      appendChunkPoints: APPEND_CHUNK,
      bufferEntryPoints: ENTRY_POINTS,
      flushConcurrency: flushF.concurrency,
      flushReadEntries: flushF.readEntries,
      requestPoints: REQUEST_POINTS,
      httpConcurrency: HTTP_CONCURRENCY,
      copyRowsPerChunk: COPY_ROWS_PER_CHUNK,
      notes: [
        'baseline: COPY text built before timing; one COPY statement on one connection',
        'a CHECKPOINT runs before the baseline and the flush stage',
        'flush: one untimed warm-up batch first (same handler, store and pool), unless --cold',
        'e2e: the system runs on its default configuration (config variables from the shell are dropped)',
        'cpu: average cores used during the timed part, by process group; "other" is everything else on the machine',
      ],
    },
    noisy,
    results: {
      copy: {
        cpuCores: copy.cpu,
        seconds: copy.ms / 1_000,
        rowsPerSec: copy.rowsPerSec,
        textBuildSeconds: copy.textBuildMs / 1_000,
        textMb: copy.bytes / 1_048_576,
      },
      flush: {
        cpuCores: flushF.cpu,
        seconds: flushF.ms / 1_000,
        pointsPerSec: flushF.pointsPerSec,
        ratioToCopy: flushF.ratio,
        fillSeconds: flushF.fillMs / 1_000,
        warmupPoints: flushF.warmupPoints,
        batches: flushF.batches,
        loopSecondsSummed: flushF.loopMs / 1_000,
        readSeconds: flushF.readMs / 1_000,
        writeSeconds: flushF.writeMs / 1_000,
        ackSeconds: flushF.ackMs / 1_000,
        decodeAndRestSeconds:
          (flushF.loopMs - flushF.readMs - flushF.writeMs - flushF.ackMs) / 1_000,
      },
      e2e: {
        cpuCores: e2e.cpu,
        seconds: e2e.ms / 1_000,
        pointsPerSec: e2e.pointsPerSec,
        ratioToCopy: e2e.ratio,
        postSeconds: e2e.postMs / 1_000,
        acceptPointsPerSec: e2e.acceptPointsPerSec,
        drainSeconds: e2e.drainMs / 1_000,
        requests: e2e.requests,
        retries503: e2e.retries503,
        latencyP50Ms: e2e.latencyP50Ms,
        latencyP99Ms: e2e.latencyP99Ms,
        maxBufferDepth: e2e.maxBufferDepth,
        bufferGrew: e2e.maxBufferDepth > 0,
        peakRssMb: e2e.peakRssMb,
        exitCode: e2e.exitCode,
        exitSignal: e2e.exitSignal,
        warnLines: e2e.warnLines,
      },
    },
    goals: {
      flushRatio: { target: GOALS.flushRatio, actual: flushF.ratio, pass: goals[0]?.pass ?? false },
      e2eRatio: { target: GOALS.e2eRatio, actual: e2e.ratio, pass: goals[1]?.pass ?? false },
      peakRssMb: { target: GOALS.rssMb, actual: e2e.peakRssMb, pass: goals[2]?.pass ?? false },
      exitZero: { target: 0, actual: e2e.exitCode, pass: goals[3]?.pass ?? false },
    },
    pass: goals.every((g) => g.pass),
  };

  const markdown = [
    '## Ingest',
    '',
    '`npm run bench:ingest` — raw COPY into `points` is the baseline; the flush stage drains a full',
    'Redis buffer with the real flush handler; end to end posts over HTTP to the real system until',
    'every point is stored.',
    '',
    `Run of ${date}: ${int(opts.points)} points over ${data.series.length} series on ${machine.cpu}`,
    `(${machine.cores} cores), Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}.`,
    '',
    markdownTable(t.stage.header, t.stage.rows, t.stage.right),
    '',
    markdownTable(t.detail.header, t.detail.rows, t.detail.right),
    '',
    'CPU: average cores used during each timed stage; *system* is the pulse process under test,',
    '*other* is every process outside the benchmark (noise on a shared machine).',
    '',
    markdownTable(t.cpu.header, t.cpu.rows, t.cpu.right),
    '',
    ...(noisy ? [`> ${noiseNote}`, ''] : []),
  ].join('\n');
  await writeResults(report, markdown);
  console.log(`wrote ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`);
  for (const g of goals.filter((x) => !x.pass))
    console.log(`goal missed: ${g.name}: ${g.actual} (goal ${g.target})`);
  return goals.every((g) => g.pass);
}

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`bench-ingest: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const res: Resources = { prefixes: [] };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress(`${signal}: cleaning up (send again to exit at once)`);
    void cleanup(res).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code = 0;
  try {
    const allPassed = await run(opts, res);
    if (!allPassed && opts.failOnGoal) code = 1;
  } catch (err) {
    if (interrupted) console.error('bench-ingest: interrupted');
    else console.error(`bench-ingest failed: ${(err as Error).stack ?? String(err)}`);
    code = 1;
  } finally {
    await cleanup(res);
  }
  process.exit(code);
}

void main();
