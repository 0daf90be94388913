// What every reader (API, warm job, regression job) asks of the rollups: a summary per metric
// and a trend for one metric, at any range and resolution. Percentiles come from merged
// sketches; the coarsest rollup that serves the resolution is read.
import type { Db } from '../infra/db.js';
import { sql } from './queries.js';
import { quantiles, type Sketch } from './sketch.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;

export interface Stats {
  count: number;
  avg: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
}

export interface MetricSummary extends Stats {
  metric_name: string;
  sum: number;
  last: number;
  last_at: string;
  series: number;
}

export interface TrendPoint extends Stats {
  /** Start of the bucket, ISO-8601. */
  t: string;
}

export interface Range {
  /** Epoch ms; aligned down to the minute (rollups have minute granularity). */
  from: number;
  to: number;
}

const alignMinute = (ms: number) => ms - (((ms % MINUTE) + MINUTE) % MINUTE);

function stats(row: {
  count: string | number;
  sum: number;
  min: number;
  max: number;
  sketch: Sketch;
}): Stats {
  const count = Number(row.count);
  const [p50, p90, p95, p99] = quantiles(row.sketch, [0.5, 0.9, 0.95, 0.99], row) as [
    number,
    number,
    number,
    number,
  ];
  return { count, avg: row.sum / count, min: row.min, max: row.max, p50, p90, p95, p99 };
}

interface Row {
  count: string;
  sum: number;
  min: number;
  max: number;
  sketch: Sketch;
}

export async function summary(db: Db, range: Range): Promise<MetricSummary[]> {
  const rows = await db.manyOrNone<
    Row & { metric_name: string; last: number; last_ts: Date; series: number }
  >(sql.rollupSummary, [new Date(alignMinute(range.from)), new Date(alignMinute(range.to))]);
  return rows.map((r) => ({
    metric_name: r.metric_name,
    ...stats(r),
    sum: r.sum,
    last: r.last,
    last_at: r.last_ts.toISOString(),
    series: r.series,
  }));
}

export interface TrendQuery extends Range {
  metric: string;
  resolutionMs: number;
  sourceAgentId?: string | undefined;
  instanceId?: string | undefined;
  tags?: Record<string, string> | undefined;
}

export async function trend(db: Db, q: TrendQuery): Promise<TrendPoint[]> {
  if (q.resolutionMs < MINUTE || q.resolutionMs % MINUTE !== 0)
    throw new RangeError('resolution must be whole minutes');
  const rows = await db.manyOrNone<Row & { t: Date }>(sql.rollupTrend, [
    q.metric,
    new Date(alignMinute(q.from)),
    new Date(alignMinute(q.to)),
    q.resolutionMs / 1_000,
    // rollup_1h serves resolutions of whole hours; finer ones need rollup_1m.
    q.resolutionMs % HOUR === 0,
    q.sourceAgentId ?? null,
    q.instanceId ?? null,
    q.tags && Object.keys(q.tags).length > 0 ? JSON.stringify(q.tags) : null,
  ]);
  return rows.map((r) => ({ t: r.t.toISOString(), ...stats(r) }));
}
