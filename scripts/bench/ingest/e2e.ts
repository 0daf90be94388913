// Stage 3 of the ingest benchmark: end to end over HTTP against the real system, per process
// layout: the pulse processes started, fed over HTTP until every point is stored, then stopped.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Db } from '../../../src/infra/db.js';
import { keysFor } from '../../../src/infra/keys.js';
import { QUEUE } from '../../../src/workers/queues.js';
import type { CopyStageFigures } from '../copy-stage.js';
import { type Cores, cpuCores, type CpuRoles, type CpuSnapshot, cpuSnapshot } from '../cpu.js';
import { type Dataset, requestBody } from '../data.js';
import { checkRunning, every, freePort, progress, type Resources } from '../env.js';
import { fixed, int, percentile } from '../report.js';
import {
  peakRssKb,
  type ProcessFigures,
  type PulseProcess,
  pulseEnv,
  startLayout,
  stopLayout,
} from './pulse.js';
import { HTTP_CONCURRENCY, type Layout, LAYOUT_LABEL, REQUEST_POINTS } from './setup.js';

export interface E2eFigures {
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
export function workerProcess(e2e: E2eFigures): ProcessFigures | undefined {
  return e2e.processes.find((p) => p.flushWorker);
}

/** The data as request bodies of REQUEST_POINTS points each, serialised before any run. */
export function requestBodies(data: Dataset): Buffer[] {
  progress(`e2e: serialising ${Math.ceil(data.n / REQUEST_POINTS)} request bodies (untimed)`);
  const bodies: Buffer[] = [];
  for (let i = 0; i < data.n; i += REQUEST_POINTS) {
    bodies.push(Buffer.from(requestBody(data, i, Math.min(data.n, i + REQUEST_POINTS))));
  }
  return bodies;
}

/** What every end-to-end run takes from the benchmark. */
export interface E2eEnv {
  res: Resources;
  db: Db;
  dbUrl: string;
  redisUrl: string;
  data: Dataset;
  /** The data as request bodies of REQUEST_POINTS points each. */
  bodies: Buffer[];
  baseline: CopyStageFigures;
  /** The bench's and the servers' pids; the run adds its pulse processes'. */
  roles: CpuRoles;
  /** Rows in `points`. */
  count: () => Promise<number>;
}

/** What the HTTP feed and the buffer-depth sampler counted. */
interface Feed {
  posted: number;
  retries503: number;
  latencies: number[];
  maxDepth: number;
}

/** One layout's run once its processes are up. */
interface LayoutRun {
  env: E2eEnv;
  label: string;
  base: string;
  procs: PulseProcess[];
  /** The bench's own Redis connection, watching the buffer depth and the queues. */
  monitor: Redis;
  depthKey: string;
  roles: CpuRoles;
  feed: Feed;
}

function openMonitor(redisUrl: string, prefix: string): { monitor: Redis; queue: Queue } {
  const monitor = new Redis(redisUrl, {
    connectionName: 'pulse-bench-monitor',
    maxRetriesPerRequest: 2,
  });
  monitor.on('error', (err) => progress(`redis (monitor): ${err.message}`));
  // Only to see the worker register (getWorkers() reads CLIENT LIST); its keys share the prefix.
  const queue = new Queue(QUEUE.flush, { connection: monitor, prefix });
  return { monitor, queue };
}

/** Samples the buffer depth every 100 ms for its maximum, with a progress line every 2 s. */
function sampleDepth(run: LayoutRun): () => Promise<void> {
  const { feed, label } = run;
  const n = run.env.data.n;
  let lastReport = performance.now();
  return every(100, async () => {
    const depth = Number((await run.monitor.get(run.depthKey)) ?? 0);
    if (depth > feed.maxDepth) feed.maxDepth = depth;
    if (performance.now() - lastReport >= 2_000) {
      lastReport = performance.now();
      progress(
        `e2e ${label}: ${int(feed.posted)} / ${int(n)} points accepted, buffer depth ${int(depth)}`,
      );
    }
  });
}

/** POSTs one body until it is accepted, after the Retry-After of each 503 answer. */
async function postBody(base: string, body: Buffer, points: number, feed: Feed): Promise<void> {
  for (;;) {
    const sent = performance.now();
    const r = await fetch(`${base}/api/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const text = await r.text();
    feed.latencies.push(performance.now() - sent);
    if (r.status === 202) {
      feed.posted += points;
      return;
    }
    if (r.status === 503) {
      feed.retries503 += 1;
      const after = Number(r.headers.get('retry-after'));
      await sleep((Number.isFinite(after) && after > 0 ? after : 1) * 1_000);
      continue;
    }
    throw new Error(`POST /api/v1/metrics answered ${r.status}: ${text.slice(0, 500)}`);
  }
}

/** POSTs every body, HTTP_CONCURRENCY requests at a time. */
async function postAll(run: LayoutRun): Promise<void> {
  const { bodies, data } = run.env;
  let next = 0;
  const sender = async () => {
    for (;;) {
      const i = next++;
      const body = bodies[i];
      if (body === undefined) return;
      const points = Math.min(REQUEST_POINTS, data.n - i * REQUEST_POINTS);
      await postBody(run.base, body, points, run.feed);
    }
  };
  await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, sender));
}

/**
 * Waits until every point is stored: the time from `started` to the count that saw them all,
 * and the cores used since `cpu0`.
 */
async function waitStored(
  run: LayoutRun,
  started: number,
  cpu0: CpuSnapshot,
): Promise<{ ms: number; cpu: Cores }> {
  const { env, label } = run;
  const n = env.data.n;
  // Stored means count(*) = N; the buffer depth (dropped only after commit) says when to look.
  const deadline = Date.now() + Math.max(300_000, n);
  let lastCount = 0;
  for (;;) {
    for (const p of run.procs) checkRunning(p, 'during the run');
    const depth = Number((await run.monitor.get(run.depthKey)) ?? 0);
    if (depth === 0 || performance.now() - lastCount > 2_000) {
      const asked = performance.now();
      const stored = await env.count();
      lastCount = performance.now();
      if (stored === n) {
        return {
          ms: asked - started,
          cpu: cpuCores(cpu0, cpuSnapshot(run.roles), performance.now() - started),
        };
      }
      if (stored > n) throw new Error(`points holds ${stored} rows, more than the ${n} sent`);
      progress(
        `e2e ${label}: ${int(stored)} / ${int(n)} points stored, buffer depth ${int(depth)}`,
      );
    }
    if (Date.now() > deadline) {
      const tails = run.procs.map((p) => `${p.role}:\n${p.output.show(30)}`).join('\n');
      throw new Error(`points not all stored in time:\n${tails}`);
    }
    await sleep(50);
  }
}

/** The timed part: from the first POST until every point is stored. */
async function timedRun(run: LayoutRun): Promise<{ ms: number; postMs: number; cpu: Cores }> {
  await run.env.db.none('CHECKPOINT');
  const cpu0 = cpuSnapshot(run.roles);
  const started = performance.now();
  await postAll(run);
  const postMs = performance.now() - started;
  progress(
    `e2e ${run.label}: all points accepted in ${fixed(postMs / 1_000, 2)} s; waiting until stored`,
  );
  const { ms, cpu } = await waitStored(run, started, cpu0);
  return { ms, postMs, cpu };
}

/** A layout's processes, up, and the bench's Redis connection watching them. */
interface Started {
  procs: PulseProcess[];
  base: string;
  monitor: Redis;
  queue: Queue;
}

/** Starts the layout's processes on a fresh port and an empty points table. */
async function startProcesses(
  env: E2eEnv,
  layout: Layout,
  prefix: string,
  label: string,
): Promise<Started> {
  const port = await freePort();
  const pulse = pulseEnv(env.dbUrl, env.redisUrl, prefix, port);
  await env.db.none('TRUNCATE points');
  const { monitor, queue } = openMonitor(env.redisUrl, prefix);
  try {
    const procs = await startLayout({ res: env.res, env: pulse, port, queue, label }, layout);
    return { procs, base: `http://127.0.0.1:${port}`, monitor, queue };
  } catch (err) {
    await queue.close().catch(() => undefined);
    monitor.disconnect();
    throw err;
  }
}

/**
 * One layout end to end, on the Redis prefix `prefix` and an empty points table; with
 * `warmPaused`, the warm queue paused for the run.
 */
export async function stageE2e(
  env: E2eEnv,
  layout: Layout,
  prefix: string,
  warmPaused = false,
): Promise<E2eFigures> {
  const label = `${LAYOUT_LABEL[layout]}${warmPaused ? ', warm paused' : ''}`;
  const { procs, base, monitor, queue } = await startProcesses(env, layout, prefix, label);
  // The same system with its dashboard warm-ups held back (the warm queue paused, as an admin
  // would in Bull Board): what warming costs ingest is the difference between the two runs.
  const warmQueue = new Queue(QUEUE.warm, { connection: monitor, prefix });
  if (warmPaused) await warmQueue.pause();
  const pids = procs.map((p) => `${p.role} ${p.pid}`).join(', ');
  progress(
    `e2e ${label}: ready (${pids}); posting ${int(env.data.n)} points, ${int(REQUEST_POINTS)} per request, ${HTTP_CONCURRENCY} at a time`,
  );

  const roles: CpuRoles = { ...env.roles };
  for (const p of procs) roles[p.role] = p.pid;
  const feed: Feed = { posted: 0, retries503: 0, latencies: [], maxDepth: 0 };
  const depthKey = keysFor(prefix).bufferDepth;
  const run: LayoutRun = { env, label, base, procs, monitor, depthKey, roles, feed };
  const stopSampler = sampleDepth(run);
  let timed: { ms: number; postMs: number; cpu: Cores };
  let warmPasses = 0;
  try {
    timed = await timedRun(run);
  } finally {
    await stopSampler();
    warmPasses = await warmQueue.getCompletedCount().catch(() => 0);
    await warmQueue.close().catch(() => undefined);
    await queue.close().catch(() => undefined);
    monitor.disconnect();
  }

  const hwm = await peakRssKb(procs);
  progress(`e2e ${label}: stored in ${fixed(timed.ms / 1_000, 2)} s; stopping with SIGTERM`);
  const processes = await stopLayout(env.res, procs, hwm, label);
  await env.db.none('TRUNCATE points');
  return figuresOf(run, { layout, warmPaused, warmPasses, ...timed }, processes);
}

/** A layout run's figures, its rate also as a ratio to the faster raw COPY. */
function figuresOf(
  run: LayoutRun,
  t: Pick<E2eFigures, 'layout' | 'warmPaused' | 'warmPasses' | 'ms' | 'postMs' | 'cpu'>,
  processes: ProcessFigures[],
): E2eFigures {
  const { data, bodies, baseline } = run.env;
  const latencies = run.feed.latencies.sort((a, b) => a - b);
  const pointsPerSec = (data.n * 1_000) / t.ms;
  return {
    layout: t.layout,
    warmPaused: t.warmPaused,
    warmPasses: t.warmPasses,
    ms: t.ms,
    cpu: t.cpu,
    pointsPerSec,
    ratio: pointsPerSec / baseline.rowsPerSec,
    postMs: t.postMs,
    acceptPointsPerSec: (data.n * 1_000) / t.postMs,
    drainMs: t.ms - t.postMs,
    requests: bodies.length,
    retries503: run.feed.retries503,
    latencyP50Ms: percentile(latencies, 50),
    latencyP99Ms: percentile(latencies, 99),
    maxBufferDepth: run.feed.maxDepth,
    processes,
  };
}
