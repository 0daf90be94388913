// The API benchmark's goals: on ratios to the baselines of the same run, and on the fleet-scale
// figures (misses, warm passes, the live run, the scale case).
import { fixed, int } from '../report.js';
import type { ApiFigures, Ratios } from './figures.js';

const GOALS = {
  throughputRatio: 0.66,
  p99Ratio: 1.5,
  rawSqlRatio: 1_000,
  summary24hMissMs: 50,
  summary7dMissMs: 80,
  planOverMiss: 18,
  trendMissMs: 10,
  warmPassS: 10,
  liveMisses: 0,
  scaleSummaryMissMs: 500,
  scaleWarmPassS: 60,
};

/** A goal as report.ts's Goal, with the measured figure as a number (the results file keeps it so). */
export interface ApiGoal {
  name: string;
  target: string;
  actual: number;
  pass: boolean;
}

const atMost = (name: string, actual: number, max: number, target = `≤ ${max}`): ApiGoal => ({
  name,
  target,
  actual,
  pass: actual <= max,
});
const atLeast = (name: string, actual: number, min: number, target: string): ApiGoal => ({
  name,
  target,
  actual,
  pass: actual >= min,
});

export type HeadlineGoals = Record<'throughputRatio' | 'p99Ratio' | 'rawSqlRatio', ApiGoal>;

/** The goals on the ratios to the bare Express baseline and to the plan's SQL. */
export function headlineGoals(r: Ratios): HeadlineGoals {
  return {
    throughputRatio: atLeast(
      'summary 24h warm: req/s ÷ bare Express req/s',
      r.throughput,
      GOALS.throughputRatio,
      `≥ ${fixed(GOALS.throughputRatio, 2)}`,
    ),
    p99Ratio: atMost(
      'summary 24h warm: p99 ÷ bare Express p99',
      r.p99,
      GOALS.p99Ratio,
      `≤ ${fixed(GOALS.p99Ratio, 2)}`,
    ),
    rawSqlRatio: atLeast(
      "plan's SQL on raw points (median) ÷ warm summary p50 (1 connection)",
      r.rawSql,
      GOALS.rawSqlRatio,
      `≥ ${int(GOALS.rawSqlRatio)}×`,
    ),
  };
}

function scaleGoals(scale: NonNullable<ApiFigures['scale']>): ApiGoal[] {
  const { small, large, growth } = scale;
  const linear = `≤ ${fixed(growth.series, 0)}× (linear)`;
  const from = `from ${int(small.series)} to ${int(large.series)} series`;
  return [
    atMost(
      `summary 24h on a miss at ${int(large.series)} series × 1 day, ms`,
      large.summary24hMissMs,
      GOALS.scaleSummaryMissMs,
    ),
    atMost(
      `warm pass at ${int(large.series)} series × 1 day, s`,
      large.warmPassS,
      GOALS.scaleWarmPassS,
    ),
    atMost(`growth of the summary miss ${from}`, growth.summary, growth.series, linear),
    atMost(`growth of the warm pass ${from}`, growth.warm, growth.series, linear),
  ];
}

/** The goals on misses, warm passes, the live run and the scale case (the fleet table). */
export function fleetGoals(f: ApiFigures, r: Ratios): ApiGoal[] {
  const { miss, warmed, live, scale } = f;
  const goals = [
    atMost('summary 24h on a miss, median ms', miss.summary24h.medianMs, GOALS.summary24hMissMs),
    atMost('summary 7d on a miss, median ms', miss.summary7d.medianMs, GOALS.summary7dMissMs),
    atLeast(
      "plan's SQL on raw points ÷ summary 24h on a miss",
      r.planOverMiss,
      GOALS.planOverMiss,
      `≥ ${GOALS.planOverMiss}×`,
    ),
    atMost(
      'time-series 7d/1h on a miss, median ms (HTTP)',
      miss.trend7d.medianMs,
      GOALS.trendMissMs,
    ),
    atMost(
      'time-series 24h/5m on a miss, median ms (HTTP)',
      miss.trend24h.medianMs,
      GOALS.trendMissMs,
    ),
    atMost(`warm pass (${warmed.entries} entries), s`, warmed.ms / 1_000, GOALS.warmPassS),
  ];
  if (live)
    goals.push({
      name: `live: answers computed on a miss after the first warm pass (${int(live.requests)} requests in ${live.minutes} min)`,
      target: `= ${GOALS.liveMisses}`,
      actual: live.missesAfterFirstPass,
      pass: live.missesAfterFirstPass === GOALS.liveMisses,
    });
  if (scale) goals.push(...scaleGoals(scale));
  return goals;
}

export const verdict = (g: ApiGoal) => (g.pass ? 'pass' : 'FAIL');
