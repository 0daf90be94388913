// Scale: the same reads over 1 day of --series and of --scale-series series, computed in this
// process (no HTTP): what the API computes on a miss, and a warm pass.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Db } from '../../../src/infra/db.js';
import type { Logger } from '../../../src/infra/logger.js';
import { DAY, HOUR, MINUTE } from '../../../src/infra/time.js';
import { type Limits, summaryView, trendView } from '../../../src/metrics/dashboard.js';
import { progress, type Resources } from '../env.js';
import { fill, fleet } from '../fleet.js';
import { fixed, int } from '../report.js';
import type { Options } from './options.js';
import { medianMs, ms } from './stats.js';
import { warmPass } from './warm.js';

export interface ScalePoint {
  series: number;
  points: number;
  fillS: number;
  summary24hMissMs: number;
  trend24hMissMs: number;
  trend7dMissMs: number;
  warmPassS: number;
  warmEntries: number;
}

/** How much each figure grew from the small case to the large one. */
export interface Growth {
  series: number;
  summary: number;
  trend24h: number;
  trend7d: number;
  warm: number;
}

export interface ScaleFigures {
  small: ScalePoint;
  large: ScalePoint;
  growth: Growth;
}

export interface ScaleEnv {
  res: Resources;
  db: Db;
  dbUrl: string;
  log: Logger;
  limits: Limits;
}

async function measure(opts: Options, env: ScaleEnv, series: number): Promise<ScalePoint> {
  const { res, db, log, limits } = env;
  progress(`scale: ${int(series)} series × 1 day`);
  await db.none(
    'TRUNCATE points, rollup_1m, rollup_1h, rollup_dirty_hours, metric_rollup, metric_rollup_partial, series, metrics RESTART IDENTITY',
  );
  const o = { ...opts, series, days: 1 };
  const specs = fleet(series, opts.metrics, opts.seed);
  const filled = await fill(o, res, db, env.dbUrl, specs);
  const metric = specs[0]?.def.metricName as string;
  // What the API computes on a miss, in this process (no HTTP).
  const summary24hMissMs = await medianMs(opts.missRuns, () => summaryView(db, '24h', DAY, limits));
  const trendOf = (range: string, rangeMs: number, resolution: string, resolutionMs: number) =>
    medianMs(opts.missRuns, () =>
      trendView(db, { metric, timeRange: range, rangeMs, resolution, resolutionMs }),
    );
  const trend24hMissMs = await trendOf('24h', DAY, '5m', 5 * MINUTE);
  const trend7dMissMs = await trendOf('7d', 7 * DAY, '1h', HOUR);
  const scalePrefix = `pulse-bench-scale-${series}-${randomBytes(3).toString('hex')}`;
  res.prefixes.push(scalePrefix);
  const warmed = await warmPass(db, res.redis as Redis, scalePrefix, log, limits);
  progress(
    `scale: ${int(series)} series: summary 24h miss ${ms(summary24hMissMs)} ms, warm pass ${fixed(warmed.ms / 1_000, 1)} s`,
  );
  return {
    series,
    points: filled.points,
    fillS: filled.totalMs / 1_000,
    summary24hMissMs,
    trend24hMissMs,
    trend7dMissMs,
    warmPassS: warmed.ms / 1_000,
    warmEntries: warmed.entries,
  };
}

/** 1 day of --scale-series series against 1 day of --series, the same measures. */
export async function scaleCase(opts: Options, env: ScaleEnv): Promise<ScaleFigures> {
  const small = await measure(opts, env, opts.series);
  const large = await measure(opts, env, opts.scaleSeries);
  const growth = {
    series: large.series / small.series,
    summary: large.summary24hMissMs / small.summary24hMissMs,
    trend24h: large.trend24hMissMs / small.trend24hMissMs,
    trend7d: large.trend7dMissMs / small.trend7dMissMs,
    warm: large.warmPassS / small.warmPassS,
  };
  return { small, large, growth };
}
