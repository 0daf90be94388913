// What every reader (API, warm job, regression job) asks of the rollups: a summary per metric
// and a trend for one metric, at any range and resolution. Percentiles come from merged
// sketches. Whole metrics are read from the metric-level rollups (cost per metric and bucket);
// a trend filtered to some series reads the per-series rollups.
import type { Db } from '../infra/db.js';
import type { RollupAcc } from './metric-rollup-rows.js';
import { metricIdOf, readMetricBuckets, readMetricTotals } from './metric-rollup.js';
import { sql } from './queries.js';
import { quantiles, type Sketch } from './sketch.js';
import { MINUTE, HOUR } from '../infra/time.js';

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

function accStats(
  a: Pick<RollupAcc, 'count' | 'sum' | 'min' | 'max'> & {
    sketch: Pick<RollupAcc['sketch'], 'quantiles'>;
  },
): Stats {
  const [p50, p90, p95, p99] = a.sketch.quantiles([0.5, 0.9, 0.95, 0.99], a) as [
    number,
    number,
    number,
    number,
  ];
  return { count: a.count, avg: a.sum / a.count, min: a.min, max: a.max, p50, p90, p95, p99 };
}

export async function summary(db: Db, range: Range): Promise<MetricSummary[]> {
  const totals = await readMetricTotals(db, alignMinute(range.from), alignMinute(range.to));
  return totals.map(({ name, acc }) => ({
    metric_name: name,
    ...accStats(acc),
    sum: acc.sum,
    last: acc.last,
    last_at: new Date(acc.lastTs).toISOString(),
    series: acc.series.size,
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
  const filtered =
    q.sourceAgentId !== undefined ||
    q.instanceId !== undefined ||
    (q.tags !== undefined && Object.keys(q.tags).length > 0);
  if (!filtered) {
    const id = await metricIdOf(db, q.metric);
    if (id === null) return [];
    const buckets = await readMetricBuckets(
      db,
      id,
      alignMinute(q.from),
      alignMinute(q.to),
      q.resolutionMs,
    );
    return buckets.map((b) => ({ t: new Date(b.t).toISOString(), ...accStats(b) }));
  }
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
