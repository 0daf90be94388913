// Load runs: autocannon (programmatic, in this process, same cores) against the warm API and
// the bare Express baseline, with the same bodies; and the same at 1 connection (unloaded).
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { progress } from '../env.js';
import { fixed, int, percentile } from '../report.js';
import { type Cores, cpuCores, type CpuRoles, cpuSnapshot } from './cpu.js';
import { SUMMARY_PATH, trendPath } from './paths.js';
import { ms, sortedOf } from './stats.js';
import type { WarmAnswers } from './warm.js';

const UNLOADED_SECONDS_MAX = 5;

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  throughput: { average: number; total: number };
}
type Autocannon = (
  opts: Record<string, unknown>,
  done: (err: Error | null, result: AutocannonResult) => void,
) => EventEmitter;

let autocannonFn: Autocannon | undefined;
export function loadAutocannon(): { run: Autocannon; version: string } {
  const require = createRequire(import.meta.url);
  try {
    autocannonFn ??= require('autocannon') as Autocannon;
    const { version } = require('autocannon/package.json') as { version: string };
    return { run: autocannonFn, version };
  } catch (err) {
    throw new Error(
      `autocannon is not installed (npm install -D autocannon): ${(err as Error).message}`,
    );
  }
}

export interface LoadRun {
  label: string;
  target: 'api' | 'baseline';
  path: string;
  connections: number;
  seconds: number;
  requests: number;
  reqPerSec: number;
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Bytes per response as received (status line, headers and body). */
  responseBytes: number;
  bodyBytes: number;
  errors: number;
  non2xx: number;
  timeouts: number;
  cpu: Cores;
  /** API runs: where the answers came from (from GET /cache before and after). */
  cache?: { l1: number; l2: number; misses: number };
}

async function autocannonRun(
  url: string,
  connections: number,
  seconds: number,
  onLatency?: (ms: number) => void,
): Promise<AutocannonResult> {
  const { run } = loadAutocannon();
  return new Promise((resolve, reject) => {
    const instance = run({ url, connections, duration: seconds, pipelining: 1 }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
    if (onLatency)
      instance.on('response', (_client: unknown, status: number, _bytes: number, t: number) => {
        if (status >= 200 && status < 300) onLatency(t);
      });
  });
}

type CacheCounts = { l1: number; l2: number; misses: number };

async function cacheCounts(base: string): Promise<CacheCounts> {
  const r = await fetch(`${base}/api/v1/cache`);
  const body = (await r.json()) as { stats: { l1_hits: number; l2_hits: number; misses: number } };
  return { l1: body.stats.l1_hits, l2: body.stats.l2_hits, misses: body.stats.misses };
}

/** What one load run asks for, and of whom. */
interface Target {
  label: string;
  target: 'api' | 'baseline';
  base: string;
  path: string;
  bodyBytes: number;
}

/** The figures of one run from autocannon's result, its 2xx latencies and the cache counts. */
function loadFigures(
  t: Target,
  connections: number,
  r: AutocannonResult,
  latencies: number[],
  cpu: Cores,
  cache: { before?: CacheCounts; after?: CacheCounts },
): LoadRun {
  const sorted = sortedOf(latencies);
  const ok = r['2xx'];
  const { before, after } = cache;
  return {
    label: t.label,
    target: t.target,
    path: t.path,
    connections,
    seconds: r.duration,
    requests: ok,
    reqPerSec: ok / r.duration,
    latency: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? NaN,
      mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
    },
    responseBytes: ok > 0 ? r.throughput.total / ok : 0,
    bodyBytes: t.bodyBytes,
    errors: r.errors,
    non2xx: r.non2xx,
    timeouts: r.timeouts,
    cpu,
    ...(before && after
      ? {
          cache: {
            l1: after.l1 - before.l1,
            l2: after.l2 - before.l2,
            misses: after.misses - before.misses,
          },
        }
      : {}),
  };
}

async function loadRun(
  t: Target,
  connections: number,
  seconds: number,
  warmupS: number,
  roles: CpuRoles,
): Promise<LoadRun> {
  const url = `${t.base}${t.path}`;
  if (warmupS > 0) await autocannonRun(url, connections, warmupS);
  const before = t.target === 'api' ? await cacheCounts(t.base) : undefined;
  const latencies: number[] = [];
  const cpu0 = cpuSnapshot(roles);
  const started = performance.now();
  const r = await autocannonRun(url, connections, seconds, (x) => latencies.push(x));
  const elapsed = performance.now() - started;
  const cpu = cpuCores(cpu0, cpuSnapshot(roles), elapsed);
  const after = t.target === 'api' ? await cacheCounts(t.base) : undefined;
  const run = loadFigures(t, connections, r, latencies, cpu, { before, after });
  const label = t.label;
  progress(
    `${label}, ${connections} connection(s), ${fixed(r.duration, 1)} s: ${int(run.reqPerSec)} req/s, p50 ${ms(run.latency.p50)} ms, p99 ${ms(run.latency.p99)} ms${r.errors + r.non2xx + r.timeouts > 0 ? `, ${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts` : ''}${run.cache ? `; cache l1 ${int(run.cache.l1)}, l2 ${run.cache.l2}, misses ${run.cache.misses}` : ''}`,
  );
  if (r.errors > 0 || r.non2xx > 0 || r.timeouts > 0)
    throw new Error(`${label}: ${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts`);
  if (run.cache && run.cache.misses > 0)
    throw new Error(`${label}: ${run.cache.misses} cache misses during a warm run`);
  return run;
}

/** The runs of a set, in this order: baseline and API alternately, same bodies. */
const RUNS = {
  summaryBaseline: { label: 'bare Express, summary body', target: 'baseline', answer: 'summary' },
  summaryApi: { label: 'API summary 24h (warm)', target: 'api', answer: 'summary' },
  trendBaseline: { label: 'bare Express, time-series body', target: 'baseline', answer: 'trend' },
  trendApi: { label: 'API time-series 7d/1h (warm)', target: 'api', answer: 'trend' },
} as const;
type RunKey = keyof typeof RUNS;

/** Where the runs go: the API and the baseline, with the warm answers both send. */
export interface Targets {
  api: string;
  baseline: string;
  answers: WarmAnswers;
  roles: CpuRoles;
}

function targetOf(key: RunKey, t: Targets): Target {
  const { label, target, answer } = RUNS[key];
  const apiPath = answer === 'summary' ? SUMMARY_PATH : trendPath(t.answers.trendMetric);
  return {
    label,
    target,
    base: target === 'api' ? t.api : t.baseline,
    // The baseline's routes (see baselineRoutes) are named after the answer they send.
    path: target === 'api' ? apiPath : `/${answer}`,
    bodyBytes: answer === 'summary' ? t.answers.summaryBytes : t.answers.trendBytes,
  };
}

async function runSet<K extends RunKey>(
  keys: K[],
  t: Targets,
  connections: number,
  seconds: number,
  warmupS: number,
): Promise<Record<K, LoadRun>> {
  const out = {} as Record<K, LoadRun>;
  for (const key of keys)
    out[key] = await loadRun(targetOf(key, t), connections, seconds, warmupS, t.roles);
  return out;
}

export type LoadRuns = Record<RunKey, LoadRun>;
export type UnloadedRuns = Record<'summaryBaseline' | 'summaryApi' | 'trendApi', LoadRun>;

/** Seconds of each unloaded run: at most UNLOADED_SECONDS_MAX. */
export const unloadedSeconds = (durationS: number) => Math.min(UNLOADED_SECONDS_MAX, durationS);

/** Every run at --connections for --duration, each after --warmup of untimed load. */
export function loadRuns(
  t: Targets,
  opts: { connections: number; durationS: number; warmupS: number },
): Promise<LoadRuns> {
  const keys: RunKey[] = ['summaryBaseline', 'summaryApi', 'trendBaseline', 'trendApi'];
  return runSet(keys, t, opts.connections, opts.durationS, opts.warmupS);
}

/** The summary against the baseline, and the time-series, at 1 connection. */
export function unloadedRuns(
  t: Targets,
  opts: { durationS: number; warmupS: number },
): Promise<UnloadedRuns> {
  const keys = ['summaryBaseline', 'summaryApi', 'trendApi'] as const;
  const warmupS = Math.min(1, opts.warmupS);
  return runSet([...keys], t, 1, unloadedSeconds(opts.durationS), warmupS);
}
