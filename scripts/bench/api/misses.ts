// Cache misses: each answer computed by the API from the rollups, its entry removed with
// POST /cache/refresh before each GET.
import { performance } from 'node:perf_hooks';
import { cacheName } from '../../../src/cache/names.js';
import { progress } from '../env.js';
import { SUMMARY_7D_PATH, SUMMARY_PATH, trend24hPath, trendPath } from './paths.js';
import { ms, type Timed, timed } from './stats.js';

/** Misses of each kind run first, untimed (see misses()). */
const MISS_UNTIMED = 3;

type MissRun = { name: string; path: string };
export type Missed = Timed & { bodyBytes: number };

/**
 * Removes `name` from the cache (L2 and every L1) through the admin API, then GETs `urlPath`.
 * The first `untimed` runs are not timed: a process that has never computed such an answer
 * runs its code cold (unoptimised), as the plan's SQL gets one untimed run before its timing.
 */
async function misses(
  base: string,
  adminToken: string,
  runs: MissRun[],
  untimed = 0,
): Promise<Missed> {
  const runsMs: number[] = [];
  let bodyBytes = 0;
  for (const [i, run] of runs.entries()) {
    const refresh = await fetch(`${base}/api/v1/cache/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pattern: run.name }),
    });
    const refreshed = (await refresh.json()) as { removed?: number };
    if (refresh.status !== 200 || refreshed.removed !== 1)
      throw new Error(
        `POST /cache/refresh ${run.name}: ${refresh.status} ${JSON.stringify(refreshed)}`,
      );
    const t = performance.now();
    const r = await fetch(`${base}${run.path}`);
    const text = await r.text();
    if (i >= untimed) runsMs.push(performance.now() - t);
    const served = (JSON.parse(text) as { served_from?: string }).served_from;
    if (r.status !== 200 || served !== 'computed')
      throw new Error(`GET ${run.path} after refresh: ${r.status}, served_from ${served}`);
    bodyBytes = Buffer.byteLength(text);
  }
  return { ...timed(runsMs), bodyBytes };
}

export interface MissFigures {
  summary24h: Missed;
  summary7d: Missed;
  trend24h: Missed;
  trend7d: Missed;
  /** The metric of each time-series run, untimed ones first. */
  trendMetrics: string[];
}

/** The API's misses, MISS_UNTIMED untimed and then `runs` timed of each answer. */
export async function missRuns(
  base: string,
  adminToken: string,
  runs: number,
  metricNames: string[],
): Promise<MissFigures> {
  const total = runs + MISS_UNTIMED;
  const kind = async (label: string, list: MissRun[]) => {
    const missed = await misses(base, adminToken, list, MISS_UNTIMED);
    progress(`${label} on a miss: median ${ms(missed.medianMs)} ms`);
    return missed;
  };
  const repeat = (name: string, path: string) =>
    Array.from({ length: total }, () => ({ name, path }));
  progress(`summary 24h on a miss: ${runs} runs`);
  const summary24h = await kind('summary 24h', repeat(cacheName.summary('24h'), SUMMARY_PATH));
  // Each run another metric (as dashboards open them), the first one included.
  const trendMetrics = Array.from(
    { length: total },
    (_, i) => metricNames[i % metricNames.length] as string,
  );
  const trend7d = await kind(
    'time-series 7d/1h',
    trendMetrics.map((m) => ({ name: cacheName.trend(m, '7d', '1h', {}), path: trendPath(m) })),
  );
  const summary7d = await kind('summary 7d', repeat(cacheName.summary('7d'), SUMMARY_7D_PATH));
  const trend24h = await kind(
    'time-series 24h/5m',
    trendMetrics.map((m) => ({ name: cacheName.trend(m, '24h', '5m', {}), path: trend24hPath(m) })),
  );
  return { summary24h, summary7d, trend24h, trend7d, trendMetrics };
}
