// One case of the regression benchmark: a fleet filled, pulse's regression job and the plan's
// SQL timed over it, and what the run found checked.
import { loadConfig } from '../../../src/config.js';
import type { Db } from '../../../src/infra/db.js';
import type { RegressionConfig, RegressionRun } from '../../../src/jobs/regression.js';
import { DAY } from '../../../src/infra/time.js';
import { progress, type Resources } from '../env.js';
import { fill } from '../fleet.js';
import type { CommonOptions } from '../options.js';
import { fixed, int } from '../report.js';
import { shapedFleet } from './fleet.js';
import { planRuns } from './plan.js';
import { pulseRuns, type Timed } from './timed.js';
import { verdict, type Verdict } from './verdict.js';

/** Throughputs: their drop is the regression (added to the default list, as a user would). */
const LOWER_IS_WORSE = ['http_requests_per_second', 'worker_jobs_per_second', 'cache_hit_ratio'];

export interface Options extends CommonOptions {
  series: number;
  days: number;
  metrics: number;
  runs: number;
  sqlRuns: number;
  scaleSeries: number;
  scaleDays: number;
  keepDatabase: boolean;
}

export interface Case {
  series: number;
  days: number;
  metrics: number;
  points: number;
  fillS: number;
  pulse: Timed;
  phases: RegressionRun['ms'];
  plan: Timed & { rows: number };
  verdict: Verdict;
}

export async function measure(
  opts: Options,
  res: Resources,
  db: Db,
  dbUrl: string,
  seriesCount: number,
  days: number,
  endMs: number,
): Promise<Case> {
  const label = `${int(seriesCount)} series × ${days} days`;
  const base = loadConfig({}).regression;
  const config: RegressionConfig = {
    ...base,
    baselineMs: Math.min(7, days) * DAY,
    minSegmentMinutes: 60,
    lowerIsWorse: [...base.lowerIsWorse, ...LOWER_IS_WORSE],
  };
  await db.none(
    'TRUNCATE points, rollup_1m, rollup_1h, rollup_dirty_hours, metric_rollup, metric_rollup_partial, series, metrics, regression_reports, regression_runs, regressions RESTART IDENTITY',
  );
  const { specs, planted } = shapedFleet(opts, seriesCount, endMs);
  const filled = await fill(
    { days, metrics: opts.metrics, seed: opts.seed, endMs },
    res,
    db,
    dbUrl,
    specs,
  );
  const pulse = await pulseRuns(db, config, endMs, opts.runs, label);
  // At scale the plan's SQL runs once (a run over tens of millions of rows takes minutes).
  const scale = seriesCount !== opts.series || days !== opts.days;
  const plan = await planRuns(dbUrl, res, endMs, scale ? 1 : opts.sqlRuns, !scale, label);
  const v = verdict(pulse.last, planted);
  progress(
    `${label}: pulse ${fixed(pulse.timing.medianMs / 1_000, 2)} s, plan's SQL ${fixed(plan.medianMs / 1_000, 2)} s; planted found ${v.plantedFound}/${v.planted}, other alarms ${v.falseAlarms.length}`,
  );
  return {
    series: seriesCount,
    days,
    metrics: opts.metrics,
    points: filled.points,
    fillS: filled.totalMs / 1_000,
    pulse: pulse.timing,
    phases: pulse.phases,
    plan,
    verdict: v,
  };
}
