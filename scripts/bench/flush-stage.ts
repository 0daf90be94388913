// The flush stage of the ingest and rollup benchmarks: the real flush handler draining a
// pre-filled Redis buffer with the worker's concurrency, timed inside the buffer's and the
// store's calls.
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/infra/db.js';
import { keysFor } from '../../src/infra/keys.js';
import type { Logger } from '../../src/infra/logger.js';
import { flush, type FlushDeps, type FlushResult } from '../../src/jobs/flush.js';
import { ENTRY_POINTS, PointBuffer } from '../../src/metrics/buffer.js';
import type { PointStore } from '../../src/metrics/store.js';
import { type Cores, cpuCores, type CpuSnapshot } from './cpu.js';
import { pointsOf, type Dataset } from './data.js';
import { every, progress } from './env.js';
import { drainFlush, fillBuffer } from './flush.js';
import { fixed, int } from './report.js';
import { type CallTimes, timeCalls } from './timing.js';

export const APPEND_CHUNK = 10_000; // points per PointBuffer.append while filling (untimed)

/** The flush settings the stage runs with. */
export interface FlushDefaults {
  concurrency: number;
  readEntries: number;
  claimIdleMs: number;
}

/** FLUSH_* variables from the shell tune the flush stage (to try settings); defaults otherwise. */
export function flushDefaults(): FlushDefaults {
  const config = loadConfig(
    Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('FLUSH_'))),
  ).flush;
  return {
    concurrency: config.concurrency,
    readEntries: config.readEntries,
    claimIdleMs: config.claimIdleMs,
  };
}

/** Where the flush stage runs and how it measures, as each benchmark does it. */
export interface FlushStageEnv {
  db: Db;
  redis: Redis;
  /** Redis key prefix of the stage's buffer. */
  prefix: string;
  /** The store the handler writes through; its write() calls are timed here. */
  store: PointStore;
  log: Logger;
  defaults: FlushDefaults;
  /** One untimed batch first, as a running worker is warm. */
  warmup: boolean;
  /** CPU ticks by process group, before and after the drain. */
  snapshot: () => CpuSnapshot;
  /** Rows stored in `points`, checked after the drain. */
  count: () => Promise<number>;
  /** Empties what the warm-up stored. */
  empty: () => Promise<unknown>;
  /** Resets the caller's own timers once the warm-up is done. */
  afterWarmup?: () => void;
  /** Starts the caller's own samplers for the drain; returns their stop(). */
  sample?: () => () => Promise<void>;
}

/** The drain's figures; the stored points are checked, not yet emptied. */
export interface FlushRun {
  ms: number;
  cpu: Cores;
  pointsPerSec: number;
  fillMs: number;
  warmupPoints: number;
  concurrency: number;
  readEntries: number;
  batches: number;
  /** Time summed over the concurrent loops, per call the handler makes (the rest is decode). */
  loopMs: number;
  readMs: number;
  writeMs: number;
  ackMs: number;
}

interface Handler {
  buffer: PointBuffer;
  bufferTimes: CallTimes<'read' | 'ack'>;
  storeTimes: CallTimes<'write'>;
  deps: (consumer: string) => FlushDeps;
  consumers: string[];
}

async function handler(env: FlushStageEnv, n: number): Promise<Handler> {
  const { defaults } = env;
  const buffer = new PointBuffer(env.redis, keysFor(env.prefix), n);
  // What the flush handler spends in the buffer's and the store's calls.
  const bufferTimes = timeCalls(buffer, ['read', 'ack']);
  await buffer.ensureGroup();
  const storeTimes = timeCalls(env.store, ['write']);
  const deps = (consumer: string): FlushDeps => ({
    buffer,
    store: env.store,
    log: env.log.child({ consumer }),
    consumer,
    readEntries: defaults.readEntries,
    claimIdleMs: defaults.claimIdleMs,
  });
  const consumers = Array.from(
    { length: defaults.concurrency },
    (_, i) => `bench:${process.pid}:${i}`,
  );
  return { buffer, bufferTimes, storeTimes, deps, consumers };
}

/**
 * A running worker is warm: its code is compiled, its pool connected, its series ids cached.
 * One untimed batch through the same handler, store and pool gets this one there too.
 */
async function warmUp(env: FlushStageEnv, h: Handler, data: Dataset): Promise<number> {
  const warmupPoints = Math.min(data.n, env.defaults.readEntries * ENTRY_POINTS);
  progress(`flush: warm-up, one untimed batch of ${int(warmupPoints)} points`);
  for (let i = 0; i < warmupPoints; i += APPEND_CHUNK) {
    await h.buffer.append(pointsOf(data, i, Math.min(warmupPoints, i + APPEND_CHUNK)));
  }
  await flush(h.deps(h.consumers[0] as string), { reason: 'manual' });
  const held = await Promise.all(h.consumers.map(() => env.db.connect()));
  for (const c of held) await c.done();
  const left = await h.buffer.depth();
  if (left !== 0) throw new Error(`warm-up left ${left} points in the buffer`);
  await env.empty();
  h.bufferTimes.reset();
  h.storeTimes.reset();
  env.afterWarmup?.();
  return warmupPoints;
}

async function fill(env: FlushStageEnv, h: Handler, data: Dataset): Promise<number> {
  progress(
    `flush: filling the Redis buffer (${int(data.n)} points, ${int(APPEND_CHUNK)} per append, untimed)`,
  );
  const filled = performance.now();
  await fillBuffer(h.buffer, data, APPEND_CHUNK);
  const fillMs = performance.now() - filled;
  const depth = await h.buffer.depth();
  if (depth !== data.n)
    throw new Error(`buffer depth is ${depth} after filling, expected ${data.n}`);
  progress(
    `flush: buffer filled in ${fixed(fillMs / 1_000, 1)} s; draining with ${env.defaults.concurrency} loops`,
  );
  return fillMs;
}

async function drain(
  env: FlushStageEnv,
  h: Handler,
  n: number,
): Promise<{ totals: FlushResult; loopMs: number; ms: number; cpu: Cores }> {
  await env.db.none('CHECKPOINT');
  const cpu0 = env.snapshot();
  const started = performance.now();
  const stopProgress = every(
    2_000,
    async () => {
      const done = n - (await h.buffer.depth());
      const s = (performance.now() - started) / 1_000;
      progress(`flush: ${int(done)} / ${int(n)} points stored (${int(done / s)}/s)`);
    },
    'progress',
  );
  const stopSamples = env.sample?.();
  try {
    const drained = await drainFlush(h.consumers, h.deps);
    const ms = performance.now() - started;
    return { ...drained, ms, cpu: cpuCores(cpu0, env.snapshot(), ms) };
  } finally {
    await stopProgress();
    await stopSamples?.();
  }
}

/**
 * Fills a buffer with `data` (untimed) and drains it with the real flush handler; checks that
 * every point was stored once and leaves them there.
 */
export async function stageFlush(env: FlushStageEnv, data: Dataset): Promise<FlushRun> {
  const h = await handler(env, data.n);
  const warmupPoints = env.warmup ? await warmUp(env, h, data) : 0;
  const fillMs = await fill(env, h, data);
  const { totals, loopMs, ms, cpu } = await drain(env, h, data.n);
  const rows = await env.count();
  const left = await h.buffer.depth();
  if (rows !== data.n || left !== 0 || totals.deadLettered > 0 || totals.duplicates > 0) {
    throw new Error(
      `flush stage stored ${rows} of ${data.n} points (buffer depth ${left}, ` +
        `${totals.deadLettered} dead-lettered, ${totals.duplicates} duplicates)`,
    );
  }
  return {
    ms,
    cpu,
    pointsPerSec: (data.n * 1_000) / ms,
    fillMs,
    warmupPoints,
    concurrency: env.defaults.concurrency,
    readEntries: env.defaults.readEntries,
    batches: totals.batches,
    loopMs,
    readMs: h.bufferTimes.ms.read,
    writeMs: h.storeTimes.ms.write,
    ackMs: h.bufferTimes.ms.ack,
  };
}
