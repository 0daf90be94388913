// bench:api's live phase: the real system (one `worker` and one `api` process, their default
// settings: CACHE_TTL 60 s, WARM_INTERVAL 10 s, FLUSH_INTERVAL 5 s) under steady ingest over
// HTTP, while a dashboard polls every standard entry. Counts the answers computed on a miss
// after the first warm pass (the goal: none), the warm passes and how long each took.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { SeriesDef } from '../../src/metrics/series.js';
import { STANDARD_RANGES, STANDARD_TRENDS } from '../../src/jobs/warm.js';
import { QUEUE } from '../../src/workers/queues.js';
import { pulseEnv } from './api/children.js';
import {
  checkRunning,
  type Child,
  every,
  freePort,
  progress,
  type Resources,
  startChild,
  stopChild,
} from './env.js';
import { percentile } from './report.js';

export interface LiveFigures {
  minutes: number;
  ingestPointsPerSec: number;
  pointsSent: number;
  polls: number;
  requests: number;
  /** Answers computed on a miss after the first warm pass had finished. */
  missesAfterFirstPass: number;
  /** pulse_cache_lookups_total{result="miss"} of the API process at the end. */
  lookupsMiss: number;
  warmPasses: number;
  warmPassMs: { median: number; max: number };
  requestMs: { p50: number; p99: number };
}

interface Options {
  dbUrl: string;
  redisUrl: string;
  prefix: string;
  minutes: number;
  pointsPerSec: number;
  series: SeriesDef[];
  metrics: string[];
}

const READY_MS = 90_000;

async function ready(base: string, p: Child): Promise<void> {
  const deadline = Date.now() + READY_MS;
  while (Date.now() < deadline) {
    checkRunning(p, 'before it was ready');
    const ok = await fetch(`${base}/readyz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`GET ${base}/readyz did not answer 200 in time\n${p.output.show(30)}`);
}

/** Every entry the warm job keeps, as the paths a dashboard asks for them. */
function standardPaths(metrics: string[]): string[] {
  const paths = STANDARD_RANGES.map(([r]) => `/api/v1/metrics/summary?time_range=${r}`);
  paths.push('/api/v1/regressions', '/api/v1/metrics', '/api/v1/series');
  for (const m of metrics)
    for (const [range, , resolution] of STANDARD_TRENDS)
      paths.push(
        `/api/v1/time-series?metric_name=${encodeURIComponent(m)}&time_range=${range}&resolution=${resolution}`,
      );
  return paths;
}

function emptyFigures(minutes: number): LiveFigures {
  return {
    minutes,
    ingestPointsPerSec: 0,
    pointsSent: 0,
    polls: 0,
    requests: 0,
    missesAfterFirstPass: 0,
    lookupsMiss: 0,
    warmPasses: 0,
    warmPassMs: { median: NaN, max: NaN },
    requestMs: { p50: NaN, p99: NaN },
  };
}

/** Steady ingest: every 100 ms a tenth of a second's points, spread over the fleet. */
function startIngest(base: string, o: Options, figures: LiveFigures): () => Promise<void> {
  const perTick = Math.max(1, Math.round(o.pointsPerSec / 10));
  let cursor = 0;
  return every(100, async () => {
    const now = Date.now();
    const points = Array.from({ length: perTick }, (_, i) => {
      const def = o.series[(cursor + i) % o.series.length] as SeriesDef;
      return {
        metric_name: def.metricName,
        value: 50 + 10 * Math.sin((cursor + i) / 97),
        timestamp: now - (i % 50),
        tags: JSON.parse(def.tagsJson) as Record<string, string>,
      };
    });
    cursor += perTick;
    const r = await fetch(`${base}/api/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ points }),
    });
    await r.text();
    if (r.status === 202) figures.pointsSent += perTick;
  });
}

async function firstWarmPass(warmQueue: Queue, worker: Child): Promise<void> {
  const deadline = Date.now() + 5 * 60_000;
  while ((await warmQueue.getCompletedCount()) === 0) {
    checkRunning(worker, 'before the first warm pass');
    if (Date.now() > deadline) throw new Error(`no warm pass within 5 minutes`);
    await sleep(250);
  }
}

/** One GET of every path; counts the requests and the answers computed on a miss. */
async function pollOnce(base: string, paths: string[], figures: LiveFigures, latencies: number[]) {
  for (const p of paths) {
    const t = performance.now();
    const r = await fetch(`${base}${p}`);
    const body = (await r.json()) as { served_from?: string };
    latencies.push(performance.now() - t);
    if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${JSON.stringify(body)}`);
    figures.requests += 1;
    if (body.served_from === 'computed') figures.missesAfterFirstPass += 1;
  }
  figures.polls += 1;
}

/** A dashboard polling `paths` for `minutes`; returns every request's latency. */
async function poll(
  base: string,
  paths: string[],
  minutes: number,
  figures: LiveFigures,
): Promise<number[]> {
  const latencies: number[] = [];
  const until = performance.now() + minutes * 60_000;
  let lastReport = performance.now();
  while (performance.now() < until) {
    const pollStarted = performance.now();
    await pollOnce(base, paths, figures, latencies);
    if (performance.now() - lastReport > 30_000) {
      lastReport = performance.now();
      progress(
        `live: ${figures.polls} polls, ${figures.requests} requests, ${figures.missesAfterFirstPass} misses, ${figures.pointsSent} points sent`,
      );
    }
    // A dashboard refreshing every 10 s (the warm job's own interval).
    await sleep(Math.max(0, 10_000 - (performance.now() - pollStarted)));
  }
  return latencies;
}

/** The API's miss counter and the warm passes the worker completed. */
async function countersOf(base: string, warmQueue: Queue, figures: LiveFigures): Promise<void> {
  const metricsText = await (await fetch(`${base}/metrics`)).text();
  // The API shows each result's counter from its start (0 included).
  figures.lookupsMiss = Number(
    /pulse_cache_lookups_total\{result="miss"\} (\d+)/.exec(metricsText)?.[1] ?? NaN,
  );
  const passes = await warmQueue.getCompleted(0, 1_000);
  const ms = passes
    .map((j) => (j.returnvalue as { ms?: number } | null)?.ms)
    .filter((x): x is number => typeof x === 'number')
    .sort((a, b) => a - b);
  figures.warmPasses = ms.length;
  figures.warmPassMs = { median: percentile(ms, 50), max: ms[ms.length - 1] ?? NaN };
}

export async function liveRun(res: Resources, o: Options): Promise<LiveFigures> {
  const port = await freePort();
  const env = pulseEnv({ ...o, port });
  const monitor = new Redis(o.redisUrl, { maxRetriesPerRequest: 2 });
  const warmQueue = new Queue(QUEUE.warm, { connection: monitor, prefix: o.prefix });
  progress('live: starting a worker and an api process (default settings)');
  const worker = startChild(res, 'worker', ['dist/src/main.js', 'worker'], env, 'ignore');
  const api = startChild(res, 'api', ['dist/src/main.js', 'api'], env, 'ignore');
  const base = `http://127.0.0.1:${port}`;
  const paths = standardPaths(o.metrics);
  const figures = emptyFigures(o.minutes);
  let stopIngest: (() => Promise<void>) | undefined;
  try {
    await ready(base, api);
    const started = performance.now();
    stopIngest = startIngest(base, o, figures);
    progress('live: ingesting; waiting for the first warm pass');
    await firstWarmPass(warmQueue, worker);
    progress(`live: first warm pass done; polling ${paths.length} entries for ${o.minutes} min`);
    const latencies = await poll(base, paths, o.minutes, figures);
    figures.ingestPointsPerSec = (figures.pointsSent * 1_000) / (performance.now() - started);
    latencies.sort((a, b) => a - b);
    figures.requestMs = { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    await countersOf(base, warmQueue, figures);
    checkRunning(worker, 'during the run');
    checkRunning(api, 'during the run');
  } finally {
    await stopIngest?.();
    await warmQueue.close().catch(() => undefined);
    monitor.disconnect();
    for (const p of [api, worker]) {
      await stopChild(p.child, 20_000);
      res.children = res.children.filter((c) => c !== p.child);
    }
  }
  return figures;
}
