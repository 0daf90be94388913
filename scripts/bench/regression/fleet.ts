// The regression benchmark's fleet: scripts/bench/fleet.ts's, with a working week (the
// load-driven metrics quiet at weekends) and three series with a planted step.
import { fleet, type SeriesSpec } from '../fleet.js';
import { HOUR, DAY } from '../../../src/infra/time.js';

/** Metrics that follow the fleet's load, and so its working week. */
const WEEKLY = new Set([
  'cpu_usage_percentage',
  'event_loop_utilization_percentage',
  'http_requests_per_second',
  'network_rx_bytes_per_second',
  'network_tx_bytes_per_second',
  'load_average_1m',
  'worker_jobs_per_second',
  'queue_completed_per_minute',
  'active_requests_count',
]);
export const WEEKEND_LEVEL = 0.6;
const WEEKEND_BLEND_MS = 3 * HOUR;
/** Planted steps: series index (of a 32-metric fleet), factor. */
const PLANTED = [
  { metric: 'db_query_duration_ms', host: 3, factor: 1.4 },
  { metric: 'event_loop_lag_ms', host: 11, factor: 1.4 },
  { metric: 'http_requests_per_second', host: 19, factor: 0.6 },
];
const STEP_BEFORE_END_MS = 12 * HOUR;

/** 1 on working days, WEEKEND_LEVEL on Saturday and Sunday, blended after midnight (UTC). */
function weekly(ts: number): number {
  const level = (day: number) => {
    const weekday = (day + 4) % 7; // 1970-01-01 was a Thursday (4)
    return weekday === 0 || weekday === 6 ? WEEKEND_LEVEL : 1;
  };
  const day = Math.floor(ts / DAY);
  const into = ts - day * DAY;
  const cur = level(day);
  if (into >= WEEKEND_BLEND_MS) return cur;
  const f = into / WEEKEND_BLEND_MS;
  return level(day - 1) + (cur - level(day - 1)) * f;
}

export interface Planted {
  index: number;
  metric: string;
  hostname: string;
  factor: number;
}

/** The fleet's series, the planted ones (those that exist at this size) with their step. */
export function shapedFleet(
  opts: { metrics: number; seed: number },
  seriesCount: number,
  endMs: number,
): { specs: SeriesSpec[]; planted: Planted[] } {
  const specs = fleet(seriesCount, opts.metrics, opts.seed);
  const stepAt = endMs - STEP_BEFORE_END_MS;
  const planted: Planted[] = [];
  for (const p of PLANTED) {
    const m = specs.findIndex((s) => s.metric.name === p.metric);
    const index = m + p.host * opts.metrics;
    if (m < 0 || index >= specs.length) continue;
    planted.push({
      index,
      metric: p.metric,
      hostname: (specs[index] as SeriesSpec).def.tags.hostname as string,
      factor: p.factor,
    });
  }
  specs.forEach((s, i) => {
    const step = planted.find((p) => p.index === i)?.factor;
    const week = WEEKLY.has(s.metric.name);
    if (!week && step === undefined) return;
    s.factor = (ts) => (week ? weekly(ts) : 1) * (step !== undefined && ts >= stepAt ? step : 1);
  });
  return { specs, planted };
}

/** The last Wednesday 18:00 UTC at or before `now`. */
export function lastWednesdayEvening(now: number): number {
  const day = Math.floor(now / DAY);
  for (let d = day; ; d--) {
    const t = d * DAY + 18 * HOUR;
    if ((d + 4) % 7 === 3 && t <= now) return t;
  }
}
