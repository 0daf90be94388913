// The warm pass: the API's cache filled by the real warm job (as the worker runs it), then one
// GET of each answer the load runs ask for, which must come from that cache.
import type { Redis } from 'ioredis';
import { DashboardCache } from '../../../src/cache/dashboard-cache.js';
import { loadConfig } from '../../../src/config.js';
import type { Db } from '../../../src/infra/db.js';
import { keysFor } from '../../../src/infra/keys.js';
import type { Logger } from '../../../src/infra/logger.js';
import { warm, type WarmResult } from '../../../src/jobs/warm.js';
import type { Limits } from '../../../src/metrics/dashboard.js';
import { progress } from '../env.js';
import { int } from '../report.js';
import type { BaselineRoute } from './children.js';
import { CACHE_TTL_MS, SUMMARY_PATH, trendPath } from './paths.js';

/** The API's defaults (its environment sets no limits). */
export function apiLimits(): Limits {
  const defaults = loadConfig({}).sampling;
  return {
    memoryPercent: defaults.criticalMemoryPercent,
    cpuPercent: defaults.criticalCpuPercent,
  };
}

/** One pass of the warm job over the entries under `prefix`. */
export async function warmPass(
  db: Db,
  redis: Redis,
  prefix: string,
  log: Logger,
  limits: Limits,
): Promise<WarmResult> {
  const cache = new DashboardCache(redis, keysFor(prefix), log);
  return warm({ db, cache, log, limits, ttlMs: CACHE_TTL_MS }, { reason: 'manual' });
}

/** A warm answer as the API sent it: the baseline sends the same bytes and headers. */
export interface WarmAnswer {
  body: string;
  served: string;
  etag: string;
  cacheControl: string;
  lastModified: string;
}

export interface WarmAnswers {
  trendMetric: string;
  summary: WarmAnswer;
  trend: WarmAnswer;
  summaryBytes: number;
  trendBytes: number;
  summaryMetrics: number;
  trendPoints: number;
}

async function first(base: string, urlPath: string): Promise<WarmAnswer> {
  const r = await fetch(`${base}${urlPath}`);
  const body = await r.text();
  if (r.status !== 200) throw new Error(`GET ${urlPath}: ${r.status} ${body.slice(0, 300)}`);
  const served = (JSON.parse(body) as { served_from: string }).served_from;
  if (served === 'computed') throw new Error(`GET ${urlPath} was computed: the warm job missed it`);
  return {
    body,
    served,
    etag: r.headers.get('etag') ?? '"x"',
    cacheControl: r.headers.get('cache-control') ?? 'public, max-age=60',
    lastModified: r.headers.get('last-modified') ?? new Date().toUTCString(),
  };
}

/** The summary 24h and `trendMetric`'s time-series 7d/1h, each of which must come from the cache. */
export async function warmAnswers(base: string, trendMetric: string): Promise<WarmAnswers> {
  const summary = await first(base, SUMMARY_PATH);
  const trend = await first(base, trendPath(trendMetric));
  const summaryParsed = JSON.parse(summary.body) as { metrics: unknown[] };
  const trendParsed = JSON.parse(trend.body) as { points: unknown[] };
  const answers = {
    trendMetric,
    summary,
    trend,
    summaryBytes: Buffer.byteLength(summary.body),
    trendBytes: Buffer.byteLength(trend.body),
    summaryMetrics: summaryParsed.metrics.length,
    trendPoints: trendParsed.points.length,
  };
  progress(
    `summary 24h: ${int(answers.summaryBytes)} B, ${answers.summaryMetrics} metrics (served from ${summary.served}); time-series ${trendMetric} 7d/1h: ${int(answers.trendBytes)} B, ${answers.trendPoints} points`,
  );
  return answers;
}

/** The baseline's routes: the very bodies and headers of the warm answers. */
export function baselineRoutes(a: WarmAnswers): BaselineRoute[] {
  return [
    { path: '/summary', ...a.summary },
    { path: '/trend', ...a.trend },
  ].map((r) => ({
    path: r.path,
    body: r.body,
    etag: r.etag,
    cacheControl: r.cacheControl,
    lastModified: r.lastModified,
  }));
}
