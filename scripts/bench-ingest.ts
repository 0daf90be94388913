// Ingest benchmark: `npm run bench:ingest -- [--points N] [--layout all|split|both] [...]`.
//
// In one run, on one throw-away database (pulse_bench_<random>) and random Redis prefixes:
//   1. baseline  raw binary COPY of the rows into `points` (same table, same indexes), twice:
//                as one stream, and split in two halves over 2 parallel streams on 2 connections
//                (the flush stage runs FLUSH_CONCURRENCY = 2 transactions); the faster one counts;
//   2. flush     the real flush handler draining a pre-filled Redis buffer (worker concurrency);
//   3. e2e       the real system (dist/src/main.js, as npm start runs it, in child processes) fed over HTTP until stored, per
//                process layout: one `all` process, and/or one `api` plus one `worker` process.
// Stages 2 and 3 are reported as ratios to the faster baseline, so the figures compare across
// machines.
// Results: a table on stdout, bench/results/ingest.json, and the Ingest section of
// bench/RESULTS.md. Progress goes to stderr. The database and Redis keys are removed at the end,
// also on failure or Ctrl-C.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { envSchema } from '../src/config.js';
import type { Db } from '../src/infra/db.js';
import { keysFor } from '../src/infra/keys.js';
import { ENTRY_POINTS } from '../src/metrics/buffer.js';
import { ensurePartitions } from '../src/metrics/partitions.js';
import { PointStore } from '../src/metrics/store.js';
import { QUEUE } from '../src/workers/queues.js';
import {
  BASELINE_LABEL,
  BASELINE_TEXT,
  type BaselineKind,
  type CopyRun,
} from './bench/baseline.js';
import {
  COPY_ROWS_PER_CHUNK,
  type CopyStageFigures,
  stageCopy as runCopyStage,
} from './bench/copy-stage.js';
import {
  type Cores,
  CPU_GROUPS,
  cpuCores,
  type CpuRoles,
  cpuSnapshot,
  NOISE_CORES,
} from './bench/cpu.js';
import { type Dataset, generateDataset, requestBody } from './bench/data.js';
import {
  benchMain,
  checkRunning,
  type Child,
  every,
  freePort,
  openEnv,
  progress,
  redactUrl,
  type Resources,
  startChild,
  stopChild,
} from './bench/env.js';
import { insertSeries } from './bench/flush.js';
import {
  APPEND_CHUNK,
  flushDefaults,
  type FlushRun,
  stageFlush as runFlushStage,
} from './bench/flush-stage.js';
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
  percentile,
  RESULTS_MD,
  ROOT,
  textTable,
  writeResultFiles,
} from './bench/report.js';
import { UsageError } from '../src/infra/usage-error.js';

const RESULTS_JSON = path.join(ROOT, 'bench', 'results', 'ingest.json');

const REQUEST_POINTS = 5_000; // points per HTTP request
const HTTP_CONCURRENCY = 4;
const SPAN_MS = 3 * 3_600_000; // timestamps spread over the last 3 hours
const GOALS = { flushRatio: 0.8, e2eRatio: 0.5, rssMb: 200, warmCostRatio: 0.9 };

// ---------------------------------------------------------------------------------------------
// Options

type Layout = 'all' | 'split';
const LAYOUTS: Layout[] = ['all', 'split'];
const LAYOUT_LABEL: Record<Layout, string> = { all: 'all-in-one', split: 'api + worker' };

interface Options {
  points: number;
  layouts: Layout[];
  databaseUrl: string;
  redisUrl: string;
  seed: number;
  failOnGoal: boolean;
  cold: boolean;
}

const USAGE = `usage: node --import tsx scripts/bench-ingest.ts [options]
  --points N            points to ingest in each stage (default 1000000)
  --layout L            process layout(s) for end to end: all (one \`all\` process), split (one
                        \`api\` plus one \`worker\` process) or both (default both)
${DATABASE_URL_USAGE}
  --redis-url URL       Redis to buffer in (default $REDIS_URL or redis://127.0.0.1:6379)
  --cold                flush stage without its warm-up batch (compiled code, pool, series cache)
${COMMON_USAGE}`;

function parseOptions(argv: string[]): Options {
  const values = parseBenchArgs(
    argv,
    {
      points: { type: 'string' },
      layout: { type: 'string' },
      cold: { type: 'boolean' },
    },
    USAGE,
  );
  const layout = (values.layout ?? 'both').trim();
  if (layout !== 'both' && !LAYOUTS.includes(layout as Layout))
    throw new UsageError('--layout: expected all, split or both');
  return {
    points: wholeOption(values.points, 1_000_000, 'points', 1_000),
    layouts: layout === 'both' ? LAYOUTS : [layout as Layout],
    ...commonOptions(values),
    cold: values.cold ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Small utilities

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
// Stages 1 and 2: raw COPY baselines; the flush handler draining a full buffer

type BaselineFigures = CopyStageFigures;

interface FlushFigures extends FlushRun {
  ratio: number;
}

async function stageCopy(
  dbUrl: string,
  db: Db,
  data: Dataset,
  ids: number[],
  roles: CpuRoles,
): Promise<BaselineFigures> {
  return runCopyStage(
    {
      db,
      dbUrl,
      ids,
      label: 'baseline',
      snapshot: () => cpuSnapshot(roles),
      count: () => countPoints(db),
      empty: () => db.none('TRUNCATE points'),
      sizeLine: true,
    },
    data,
  );
}

async function stageFlush(
  db: Db,
  redis: Redis,
  prefix: string,
  data: Dataset,
  baseline: BaselineFigures,
  roles: CpuRoles,
  warmup: boolean,
): Promise<FlushFigures> {
  const r = await runFlushStage(
    {
      db,
      redis,
      prefix,
      store: new PointStore(db),
      log: pino({ level: 'warn', base: { bench: 'flush' } }, pino.destination(2)),
      defaults: flushDefaults(),
      warmup,
      snapshot: () => cpuSnapshot(roles),
      count: () => countPoints(db),
      empty: () => db.none('TRUNCATE points'),
    },
    data,
  );
  await db.none('TRUNCATE points');
  progress(`flush: ${int(data.n)} points in ${fixed(r.ms / 1_000, 2)} s, ${r.batches} batches`);
  return { ...r, ratio: r.pointsPerSec / baseline.rowsPerSec };
}

// ---------------------------------------------------------------------------------------------
// Stage 3: end to end over HTTP against the real system, per process layout

type Role = 'all' | 'api' | 'worker';

interface ProcessFigures {
  role: Role;
  /** True for the process that runs the flush worker: the RSS goal applies to it. */
  flushWorker: boolean;
  peakRssMb: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  /** Ignored SIGTERM and was killed. */
  killed: boolean;
  warnLines: number;
}

interface E2eFigures {
  layout: Layout;
  /** The warm queue was paused for the run (the comparison run). */
  warmPaused: boolean;
  /** Warm passes completed by the end of the run. */
  warmPasses: number;
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
  processes: ProcessFigures[];
}

/** The process that runs the flush worker in a layout's figures. */
function workerProcess(e2e: E2eFigures): ProcessFigures | undefined {
  return e2e.processes.find((p) => p.flushWorker);
}

interface PulseProcess extends Child {
  role: Role;
}

/** Starts `node dist/src/main.js <role>`; cleanup stops it if the run does not. */
function startPulse(res: Resources, role: Role, env: NodeJS.ProcessEnv): PulseProcess {
  return { ...startChild(res, role, ['dist/src/main.js', role], env, 'ignore'), role };
}

/** Stops one pulse process with SIGTERM (SIGKILL after 20 s) and says how it went. */
async function stopPulse(
  res: Resources,
  p: PulseProcess,
  label: string,
): Promise<{ code: number | null; signal: string | null; timedOut: boolean }> {
  const stopped = await stopChild(p.child, 20_000);
  res.children = res.children.filter((c) => c !== p.child);
  if (stopped.code !== 0) {
    progress(
      `e2e ${label}: the ${p.role} process exited with ${stopped.code ?? stopped.signal}${stopped.timedOut ? ' (killed after 20 s)' : ''}; last output:\n${p.output.show(30)}`,
    );
  } else if (p.output.warnLines > 0) {
    progress(
      `e2e ${label}: the ${p.role} process logged ${p.output.warnLines} warning/error line(s); last output:\n${p.output.show(10)}`,
    );
  }
  return stopped;
}

async function waitReady(base: string, p: PulseProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  let last = '';
  while (Date.now() < deadline) {
    checkRunning(p, 'before it was ready');
    try {
      const r = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3_000) });
      last = `${r.status} ${await r.text()}`;
      if (r.status === 200) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(
    `GET /readyz did not answer 200 within 90 s (last: ${last})\n${p.output.show(30)}`,
  );
}

/** Waits until the process's BullMQ flush worker is connected (it names its Redis connection). */
async function waitWorker(queue: Queue, p: PulseProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    checkRunning(p, 'before its flush worker was up');
    if ((await queue.getWorkers()).length > 0) return;
    await sleep(200);
  }
  throw new Error(`no flush worker registered within 90 s\n${p.output.show(30)}`);
}

async function stageE2e(
  res: Resources,
  layout: Layout,
  db: Db,
  dbUrl: string,
  redisUrl: string,
  prefix: string,
  data: Dataset,
  bodies: Buffer[],
  baseline: BaselineFigures,
  baseRoles: CpuRoles,
  warmPaused = false,
): Promise<E2eFigures> {
  const label = `${LAYOUT_LABEL[layout]}${warmPaused ? ', warm paused' : ''}`;
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
    // Samplers would add their own points to the count this stage waits for.
    SAMPLERS: 'none',
  });

  await db.none('TRUNCATE points');
  const monitor = new Redis(redisUrl, {
    connectionName: 'pulse-bench-monitor',
    maxRetriesPerRequest: 2,
  });
  monitor.on('error', (err) => progress(`redis (monitor): ${err.message}`));
  // Only to see the worker register (getWorkers() reads CLIENT LIST); its keys share the prefix.
  const queue = new Queue(QUEUE.flush, { connection: monitor, prefix });
  const procs: PulseProcess[] = [];
  const base = `http://127.0.0.1:${port}`;
  try {
    if (layout === 'all') {
      progress(`e2e ${label}: starting node dist/src/main.js all (port ${port})`);
      const all = startPulse(res, 'all', env);
      procs.push(all);
      await waitReady(base, all);
      await waitWorker(queue, all);
    } else {
      // The worker first, so it is flushing before the first POST, as in a running deployment.
      progress(`e2e ${label}: starting node dist/src/main.js worker`);
      const worker = startPulse(res, 'worker', env);
      procs.push(worker);
      await waitWorker(queue, worker);
      progress(`e2e ${label}: starting node dist/src/main.js api (port ${port})`);
      const api = startPulse(res, 'api', env);
      procs.push(api);
      await waitReady(base, api);
      checkRunning(worker, 'while the api process started');
    }
  } catch (err) {
    await queue.close().catch(() => undefined);
    monitor.disconnect();
    throw err;
  }
  // The same system with its dashboard warm-ups held back (the warm queue paused, as an admin
  // would in Bull Board): what warming costs ingest is the difference between the two runs.
  const warmQueue = new Queue(QUEUE.warm, { connection: monitor, prefix });
  if (warmPaused) await warmQueue.pause();
  const pids = procs.map((p) => `${p.role} ${p.pid}`).join(', ');
  progress(
    `e2e ${label}: ready (${pids}); posting ${int(data.n)} points, ${int(REQUEST_POINTS)} per request, ${HTTP_CONCURRENCY} at a time`,
  );

  const depthKey = keysFor(prefix).bufferDepth;
  let maxDepth = 0;
  let posted = 0;
  let lastReport = performance.now();
  const stopSampler = every(100, async () => {
    const depth = Number((await monitor.get(depthKey)) ?? 0);
    if (depth > maxDepth) maxDepth = depth;
    if (performance.now() - lastReport >= 2_000) {
      lastReport = performance.now();
      progress(
        `e2e ${label}: ${int(posted)} / ${int(data.n)} points accepted, buffer depth ${int(depth)}`,
      );
    }
  });

  let retries503 = 0;
  let warmPasses = 0;
  const latencies: number[] = [];
  let postMs = 0;
  let ms = 0;
  let drainMs = 0;
  const roles: CpuRoles = { ...baseRoles };
  for (const p of procs) roles[p.role] = p.pid;
  await db.none('CHECKPOINT');
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
    progress(
      `e2e ${label}: all points accepted in ${fixed(postMs / 1_000, 2)} s; waiting until stored`,
    );

    // Stored means count(*) = N; the buffer depth (dropped only after commit) says when to look.
    const deadline = Date.now() + Math.max(300_000, data.n);
    let lastCount = 0;
    for (;;) {
      for (const p of procs) checkRunning(p, 'during the run');
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
        progress(
          `e2e ${label}: ${int(stored)} / ${int(data.n)} points stored, buffer depth ${int(depth)}`,
        );
      }
      if (Date.now() > deadline) {
        const tails = procs.map((p) => `${p.role}:\n${p.output.show(30)}`).join('\n');
        throw new Error(`points not all stored in time:\n${tails}`);
      }
      await sleep(50);
    }
    drainMs = ms - postMs;
  } finally {
    await stopSampler();
    const warmed = await warmQueue.getCompletedCount().catch(() => 0);
    warmPasses = warmed;
    await warmQueue.close().catch(() => undefined);
    await queue.close().catch(() => undefined);
    monitor.disconnect();
  }

  const hwm = await Promise.all(procs.map((p) => procStatusKb(p.pid, 'VmHWM')));
  progress(`e2e ${label}: stored in ${fixed(ms / 1_000, 2)} s; stopping with SIGTERM`);
  // The api first (no new points), then the worker, as one would take a deployment down.
  const processes: ProcessFigures[] = [];
  for (const [i, p] of [...procs.entries()].sort(
    ([, a], [, b]) => Number(a.role !== 'api') - Number(b.role !== 'api'),
  )) {
    const stopped = await stopPulse(res, p, label);
    const kb = hwm[i] ?? null;
    processes.push({
      role: p.role,
      flushWorker: p.role !== 'api',
      peakRssMb: kb === null ? null : kb / 1_024,
      exitCode: stopped.code,
      exitSignal: stopped.signal,
      killed: stopped.timedOut,
      warnLines: p.output.warnLines,
    });
  }
  await db.none('TRUNCATE points');
  latencies.sort((a, b) => a - b);
  const pointsPerSec = (data.n * 1_000) / ms;
  return {
    layout,
    warmPaused,
    warmPasses,
    ms,
    cpu,
    pointsPerSec,
    ratio: pointsPerSec / baseline.rowsPerSec,
    postMs,
    acceptPointsPerSec: (data.n * 1_000) / postMs,
    drainMs,
    requests: bodies.length,
    retries503,
    latencyP50Ms: percentile(latencies, 50),
    latencyP99Ms: percentile(latencies, 99),
    maxBufferDepth: maxDepth,
    processes,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Goals {
  flushRatio: Goal;
  e2e: Partial<Record<Layout, { ratio: Goal; workerRss: Goal; exitZero: Goal }>>;
}

const mb = (x: number | null) => (x === null ? 'unknown' : `${fixed(x, 0)} MB`);
const exitText = (p: ProcessFigures) =>
  p.exitCode === null
    ? `signal ${p.exitSignal}${p.killed ? ' (killed)' : ''}`
    : `exit ${p.exitCode}`;

function goalsOf(flushF: FlushFigures, e2es: E2eFigures[]): Goals {
  const goals: Goals = {
    flushRatio: {
      name: 'flush / raw COPY',
      target: `≥ ${fixed(GOALS.flushRatio, 2)}`,
      actual: fixed(flushF.ratio, 2),
      pass: flushF.ratio >= GOALS.flushRatio,
    },
    e2e: {},
  };
  for (const e2e of e2es) {
    const label = LAYOUT_LABEL[e2e.layout];
    const rss = workerProcess(e2e)?.peakRssMb ?? null;
    goals.e2e[e2e.layout] = {
      ratio: {
        name: `end to end (${label}) / raw COPY`,
        target: `≥ ${fixed(GOALS.e2eRatio, 2)}`,
        actual: fixed(e2e.ratio, 2),
        pass: e2e.ratio >= GOALS.e2eRatio,
      },
      workerRss: {
        name: `worker process peak RSS (${label})`,
        target: `≤ ${GOALS.rssMb} MB`,
        actual: mb(rss),
        pass: rss !== null && rss <= GOALS.rssMb,
      },
      exitZero: {
        name: `exit on SIGTERM (${label})`,
        target: 'exit 0',
        actual: e2e.processes
          .map((p) => (e2e.processes.length > 1 ? `${p.role} ${exitText(p)}` : exitText(p)))
          .join(', '),
        pass: e2e.processes.every((p) => p.exitCode === 0),
      },
    };
  }
  return goals;
}

function allGoals(goals: Goals): Goal[] {
  return [
    goals.flushRatio,
    ...Object.values(goals.e2e).flatMap((g) => [g.ratio, g.workerRss, g.exitZero]),
  ];
}

function tables(
  n: number,
  baseline: BaselineFigures,
  flushF: FlushFigures,
  e2es: E2eFigures[],
  goals: Goals,
) {
  const verdict = (g: Goal) => (g.pass ? 'pass' : 'FAIL');
  const e2eLabel = (e2e: E2eFigures) => `End to end (HTTP, ${LAYOUT_LABEL[e2e.layout]})`;
  const copyRow = (kind: BaselineKind) => {
    const run = baseline[kind];
    return [
      BASELINE_LABEL[kind],
      int(n),
      fixed(run.ms / 1_000, 2),
      int(run.rowsPerSec),
      fixed(run.rowsPerSec / baseline.rowsPerSec, 2),
      '—',
      kind === baseline.used ? 'baseline' : '—',
    ];
  };
  const stage = {
    header: ['Stage', 'Points', 'Time (s)', 'Points/s', 'vs COPY', 'Goal', 'Result'],
    right: [1, 2, 3, 4],
    rows: [
      copyRow('single'),
      copyRow('parallel'),
      [
        `Flush (Redis → PG, ${flushF.concurrency} concurrent)`,
        int(n),
        fixed(flushF.ms / 1_000, 2),
        int(flushF.pointsPerSec),
        fixed(flushF.ratio, 2),
        goals.flushRatio.target,
        verdict(goals.flushRatio),
      ],
      ...e2es.map((e2e) => {
        const g = goals.e2e[e2e.layout]?.ratio as Goal;
        return [
          e2eLabel(e2e),
          int(n),
          fixed(e2e.ms / 1_000, 2),
          int(e2e.pointsPerSec),
          fixed(e2e.ratio, 2),
          g.target,
          verdict(g),
        ];
      }),
    ],
  };

  const pct = (x: number) => `${int((100 * x) / flushF.loopMs)}%`;
  const detailRows: string[][] = [];
  for (const e2e of e2es) {
    const g = goals.e2e[e2e.layout];
    if (!g) continue;
    detailRows.push([
      `Worker process peak RSS (VmHWM), ${LAYOUT_LABEL[e2e.layout]}`,
      g.workerRss.actual,
      g.workerRss.target,
      verdict(g.workerRss),
    ]);
    for (const p of e2e.processes.filter((x) => x.role === 'api')) {
      detailRows.push([
        `API process peak RSS (VmHWM), ${LAYOUT_LABEL[e2e.layout]}`,
        mb(p.peakRssMb),
        '—',
        'info',
      ]);
    }
  }
  for (const e2e of e2es) {
    const g = goals.e2e[e2e.layout];
    if (g)
      detailRows.push([
        `Exit on SIGTERM, ${LAYOUT_LABEL[e2e.layout]}`,
        g.exitZero.actual,
        g.exitZero.target,
        verdict(g.exitZero),
      ]);
  }
  // Reads of the next batch overlap the current write (prefetch), so these shares may add up
  // to more than 100 %: each is the time spent inside that call, over both flush loops.
  detailRows.push([
    'Flush loop time inside read / write / ack (overlapping)',
    `${pct(flushF.readMs)} / ${pct(flushF.writeMs)} / ${pct(flushF.ackMs)}`,
    '—',
    '—',
  ]);
  const detail = { header: ['Measure', 'Value', 'Goal', 'Result'], right: [], rows: detailRows };

  const perLayout = (f: (e: E2eFigures) => string) => e2es.map(f);
  const e2eDetail = {
    header: ['End to end', ...e2es.map((e) => LAYOUT_LABEL[e.layout])],
    right: e2es.map((_, i) => i + 1),
    rows: [
      ['HTTP accept rate (points/s)', ...perLayout((e) => int(e.acceptPointsPerSec))],
      ['Drain after last POST (s)', ...perLayout((e) => fixed(e.drainMs / 1_000, 2))],
      ['Max buffer depth (points)', ...perLayout((e) => int(e.maxBufferDepth))],
      [
        'POST latency p50 / p99 (ms)',
        ...perLayout((e) => `${int(e.latencyP50Ms)} / ${int(e.latencyP99Ms)}`),
      ],
      ['503 answers, retried', ...perLayout((e) => int(e.retries503))],
      [
        'Warning/error log lines',
        ...perLayout((e) => int(e.processes.reduce((k, p) => k + p.warnLines, 0))),
      ],
    ],
  };

  // /proc counts CPU in 10 ms ticks: below a second the averages say nothing. A pulse column
  // that does not apply to a stage (no such process ran) shows "—".
  const cores = (c: Cores, ms: number, running: Role[]) =>
    CPU_GROUPS.map((g) =>
      ms < 1_000 || ((g === 'all' || g === 'api' || g === 'worker') && !running.includes(g))
        ? '—'
        : fixed(c[g], 2),
    );
  const cpu = {
    header: [
      'CPU (cores used)',
      'bench',
      'pulse all',
      'pulse api',
      'pulse worker',
      'postgres',
      'redis',
      'other',
    ],
    right: [1, 2, 3, 4, 5, 6, 7],
    rows: [
      [BASELINE_LABEL.single, ...cores(baseline.single.cpu, baseline.single.ms, [])],
      [BASELINE_LABEL.parallel, ...cores(baseline.parallel.cpu, baseline.parallel.ms, [])],
      [`Flush (Redis → PG, ${flushF.concurrency} concurrent)`, ...cores(flushF.cpu, flushF.ms, [])],
      ...e2es.map((e) => [
        e2eLabel(e),
        ...cores(
          e.cpu,
          e.ms,
          e.processes.map((p) => p.role),
        ),
      ]),
    ],
  };
  return { stage, detail, e2eDetail, cpu };
}

async function writeResults(report: Record<string, unknown>, markdown: string): Promise<void> {
  // Three decimals are plenty for seconds, rates and ratios.
  const round = (_key: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1_000) / 1_000 : v;
  await writeResultFiles(RESULTS_JSON, 'Ingest', report, markdown, round);
}

// ---------------------------------------------------------------------------------------------

async function run(opts: Options, res: Resources): Promise<boolean> {
  const suffix = randomBytes(4).toString('hex');
  const database = `pulse_bench_${suffix}`;
  const flushPrefix = `pulse-bench-${suffix}-flush`;
  // A fresh prefix per layout: no buffer, group or queue state carries over between runs.
  const e2ePrefix = (layout: Layout) => `pulse-bench-${suffix}-e2e-${layout}`;
  res.prefixes.push(flushPrefix, ...opts.layouts.map(e2ePrefix));

  progress(
    `server ${redactUrl(opts.databaseUrl)}, Redis ${redactUrl(opts.redisUrl)}, ${int(opts.points)} points`,
  );
  const { db, dbUrl, redis, pgVersion, redisVersion, roles } = await openEnv(
    opts,
    res,
    database,
    pino({ level: 'warn' }, pino.destination(2)),
    (db) => ensurePartitions(db),
  );

  progress(`generating ${int(opts.points)} points (seed ${opts.seed})`);
  const data = generateDataset(opts.points, opts.seed, Date.now(), SPAN_MS);

  // Series rows first (untimed): every stage then meets existing series, as a running system does.
  const ids = await insertSeries(db, data.series);

  const baseline = await stageCopy(dbUrl, db, data, ids, roles);
  const flushF = await stageFlush(db, redis, flushPrefix, data, baseline, roles, !opts.cold);
  progress(`e2e: serialising ${Math.ceil(data.n / REQUEST_POINTS)} request bodies (untimed)`);
  const bodies: Buffer[] = [];
  for (let i = 0; i < data.n; i += REQUEST_POINTS) {
    bodies.push(Buffer.from(requestBody(data, i, Math.min(data.n, i + REQUEST_POINTS))));
  }
  const e2es: E2eFigures[] = [];
  for (const layout of opts.layouts) {
    e2es.push(
      await stageE2e(
        res,
        layout,
        db,
        dbUrl,
        opts.redisUrl,
        e2ePrefix(layout),
        data,
        bodies,
        baseline,
        roles,
      ),
    );
  }

  // The last layout again with the warm queue paused: warming must cost ingest little.
  const warmLayout = opts.layouts[opts.layouts.length - 1] as Layout;
  const noWarmPrefix = `pulse-bench-${suffix}-e2e-nowarm`;
  res.prefixes.push(noWarmPrefix);
  const noWarm = await stageE2e(
    res,
    warmLayout,
    db,
    dbUrl,
    opts.redisUrl,
    noWarmPrefix,
    data,
    bodies,
    baseline,
    roles,
    true,
  );
  const warmOn = e2es[e2es.length - 1] as E2eFigures;
  const warmCost = warmOn.pointsPerSec / noWarm.pointsPerSec;
  const warmGoal: Goal = {
    name: `end to end (${LAYOUT_LABEL[warmLayout]}) with the warm job ÷ warm queue paused`,
    target: `≥ ${fixed(GOALS.warmCostRatio, 2)}`,
    actual: fixed(warmCost, 2),
    pass: warmCost >= GOALS.warmCostRatio,
  };
  const warmLine = `Warm job's cost to ingest (${LAYOUT_LABEL[warmLayout]}): ${int(warmOn.pointsPerSec)} points/s with ${warmOn.warmPasses} warm passes during the run, ${int(noWarm.pointsPerSec)} points/s with the warm queue paused: ratio ${fixed(warmCost, 2)} (goal ${warmGoal.target}).`;

  const goals = goalsOf(flushF, e2es);
  const goalList = [...allGoals(goals), warmGoal];
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
  const t = tables(opts.points, baseline, flushF, e2es, goals);
  const usedNote = `Ratios ("vs COPY") use the faster raw COPY: ${BASELINE_TEXT[baseline.used]}, ${int(baseline.rowsPerSec)} rows/s.`;

  console.log('');
  console.log(
    `Ingest benchmark — ${int(opts.points)} points, ${data.series.length} series, ${date}`,
  );
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`,
  );
  console.log('');
  console.log(textTable(t.stage.header, t.stage.rows, t.stage.right));
  console.log(usedNote);
  console.log('');
  for (const table of [t.detail, t.e2eDetail, t.cpu]) {
    console.log(textTable(table.header, table.rows, table.right));
    console.log('');
  }
  console.log(warmLine);
  console.log('');
  const timed = [baseline.single, baseline.parallel, flushF, ...e2es, noWarm];
  const noisy = timed.some((x) => x.ms >= 1_000 && x.cpu.other > NOISE_CORES);
  const noiseNote = `Processes outside the benchmark used more than ${NOISE_CORES} cores during a stage: the machine was not quiet, so the ratios may be off; run again.`;
  if (noisy) console.log(`warning: ${noiseNote}\n`);

  const copyJson = (run: CopyRun) => ({
    streams: run.streams,
    cpuCores: run.cpu,
    seconds: run.ms / 1_000,
    rowsPerSec: run.rowsPerSec,
    ratioToBaseline: run.rowsPerSec / baseline.rowsPerSec,
  });
  const e2eJson = (e2e: E2eFigures) => ({
    processes: e2e.processes.map((p) => p.role),
    cpuCores: e2e.cpu,
    seconds: e2e.ms / 1_000,
    pointsPerSec: e2e.pointsPerSec,
    ratioToBaseline: e2e.ratio,
    postSeconds: e2e.postMs / 1_000,
    acceptPointsPerSec: e2e.acceptPointsPerSec,
    drainSeconds: e2e.drainMs / 1_000,
    requests: e2e.requests,
    retries503: e2e.retries503,
    latencyP50Ms: e2e.latencyP50Ms,
    latencyP99Ms: e2e.latencyP99Ms,
    maxBufferDepth: e2e.maxBufferDepth,
    bufferGrew: e2e.maxBufferDepth > 0,
    workerPeakRssMb: workerProcess(e2e)?.peakRssMb ?? null,
    byProcess: Object.fromEntries(
      e2e.processes.map((p) => [
        p.role,
        {
          runsFlushWorker: p.flushWorker,
          peakRssMb: p.peakRssMb,
          cpuCores: e2e.cpu[p.role],
          exitCode: p.exitCode,
          exitSignal: p.exitSignal,
          killedAfterTimeout: p.killed,
          warnLines: p.warnLines,
        },
      ]),
    ),
  });
  const goalJson = (g: Goal, target: number, actual: number | null) => ({
    target,
    actual,
    pass: g.pass,
  });

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
      layouts: Object.fromEntries(opts.layouts.map((l) => [l, LAYOUT_LABEL[l]])),
      notes: [
        'baseline: binary COPY data built before timing; run once as one COPY stream on one connection, then (after TRUNCATE) split in two halves copied by 2 parallel COPY streams on 2 connections; every ratio uses the faster of the two',
        'a CHECKPOINT runs before each baseline run, the flush stage and each end-to-end run',
        'flush: one untimed warm-up batch first (same handler, store and pool), unless --cold',
        'e2e: the system runs on its default configuration (config variables from the shell are dropped); layout all = one `main.ts all` process, layout split = one `main.ts worker` plus one `main.ts api` process on the same database and Redis prefix; a fresh Redis prefix and an empty points table per layout',
        'rss: VmHWM of each pulse process; the goal applies to the process running the flush worker',
        'cpu: average cores used during the timed part, by process group; "other" is everything else on the machine',
      ],
    },
    noisy,
    results: {
      baseline: {
        used: baseline.used,
        rowsPerSec: baseline.rowsPerSec,
        buildSeconds: baseline.buildMs / 1_000,
        dataMb: baseline.bytes / 1_048_576,
        single: copyJson(baseline.single),
        parallel: copyJson(baseline.parallel),
      },
      flush: {
        cpuCores: flushF.cpu,
        seconds: flushF.ms / 1_000,
        pointsPerSec: flushF.pointsPerSec,
        ratioToBaseline: flushF.ratio,
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
      e2e: Object.fromEntries(e2es.map((e) => [e.layout, e2eJson(e)])),
      e2eWarmPaused: { layout: warmLayout, ...e2eJson(noWarm) },
      warmPassesDuringE2e: warmOn.warmPasses,
    },
    goals: {
      baseline: baseline.used,
      flushRatio: goalJson(goals.flushRatio, GOALS.flushRatio, flushF.ratio),
      e2e: Object.fromEntries(
        e2es.map((e) => {
          const g = goals.e2e[e.layout] as NonNullable<Goals['e2e'][Layout]>;
          return [
            e.layout,
            {
              ratio: goalJson(g.ratio, GOALS.e2eRatio, e.ratio),
              workerPeakRssMb: goalJson(
                g.workerRss,
                GOALS.rssMb,
                workerProcess(e)?.peakRssMb ?? null,
              ),
              exitZero: {
                target: 0,
                actual: Object.fromEntries(e.processes.map((p) => [p.role, p.exitCode])),
                pass: g.exitZero.pass,
              },
            },
          ];
        }),
      ),
      warmCostRatio: goalJson(warmGoal, GOALS.warmCostRatio, warmCost),
    },
    pass: goalList.every((g) => g.pass),
  };

  const markdown = [
    '## Ingest',
    '',
    '`npm run bench:ingest` — raw COPY into `points` is the baseline; the flush stage drains a full',
    'Redis buffer with the real flush handler; end to end posts over HTTP to the real system until',
    'every point is stored, once per process layout.',
    '',
    `Run of ${date}: ${int(opts.points)} points over ${data.series.length} series on ${machine.cpu}`,
    `(${machine.cores} cores), Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}.`,
    '',
    markdownTable(t.stage.header, t.stage.rows, t.stage.right),
    '',
    usedNote,
    '',
    markdownTable(t.detail.header, t.detail.rows, t.detail.right),
    '',
    markdownTable(t.e2eDetail.header, t.e2eDetail.rows, t.e2eDetail.right),
    '',
    warmLine,
    '',
    'CPU: average cores used during each timed stage; *pulse all / api / worker* are the pulse',
    'processes under test, *other* is every process outside the benchmark (noise on a shared machine).',
    '',
    markdownTable(t.cpu.header, t.cpu.rows, t.cpu.right),
    '',
    ...(noisy ? [`> ${noiseNote}`, ''] : []),
    'What each stage measures: *raw COPY* is PostgreSQL alone taking the prepared binary rows,',
    `once as one COPY stream and once split in two halves over two parallel streams (the flush stage`,
    `runs ${flushF.concurrency} transactions at once, so one stream alone would be a soft baseline); every ratio uses`,
    'the faster of the two. *Flush* is the real flush handler (read, decode, series ids, binary COPY,',
    'ack) draining a pre-filled Redis buffer with its default concurrency, in the benchmark process.',
    '*End to end* is the real system as separate processes — one all-in-one process, or one `api`',
    'plus one `worker` process on the same database and Redis prefix — fed over HTTP from the first',
    'POST until every point is stored; the RSS goal applies to the process running the flush worker.',
    '',
  ].join('\n');
  await writeResults(report, markdown);
  console.log(`wrote ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`);
  for (const g of goalList.filter((x) => !x.pass))
    console.log(`goal missed: ${g.name}: ${g.actual} (goal ${g.target})`);
  return goalList.every((g) => g.pass);
}

void benchMain('bench-ingest', USAGE, parseOptions, run);
