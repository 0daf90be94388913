// What the dashboard shows, computed from the rollups: the summary with the plan's health score
// and alert count, trends, the list of metrics and pages of series. The warm job computes these
// ahead; the API computes one only on a cache miss.
import type { Db } from '../infra/db.js';
import { metricIdOf } from './metric-rollup.js';
import { sql } from './queries.js';
import { encodeCursor, type SeriesFilters, type SeriesPosition } from './series-cursor.js';
import { summary, trend, type MetricSummary, type TrendPoint } from './rollup-queries.js';
import { MINUTE, HOUR } from '../infra/time.js';

export interface Limits {
  memoryPercent: number;
  cpuPercent: number;
}

export interface Alert {
  metric_name: string;
  tags: Record<string, string>;
  value: number;
  limit: number | null;
  at: string;
}

export interface SummaryView {
  time_range: string;
  from: string;
  to: string;
  metrics: MetricSummary[];
  health_score: number;
  alert_count: number;
  alerts: Alert[];
  computed_at: string;
}

/**
 * The plan's health score, from the last hour's averages: memory above 75 % costs 10 and above
 * 90 % another 20; CPU above 70 % costs 5 and above 85 % another 15; never below 0.
 */
export function healthScore(lastHour: Pick<MetricSummary, 'metric_name' | 'avg'>[]): number {
  let score = 100;
  for (const m of lastHour) {
    if (m.metric_name === 'memory_usage_percentage') {
      if (m.avg > 90) score -= 20;
      if (m.avg > 75) score -= 10;
    } else if (m.metric_name === 'cpu_usage_percentage') {
      if (m.avg > 85) score -= 15;
      if (m.avg > 70) score -= 5;
    }
  }
  return Math.max(0, score);
}

/** Active alerts: a host over a critical limit, or a scrape target down, in the last 5 minutes. */
export async function activeAlerts(db: Db, limits: Limits): Promise<Alert[]> {
  const rows = await db.manyOrNone<{
    metric_name: string;
    tags: Record<string, string>;
    value: number;
    last_ts: Date;
  }>(sql.dashboardAlertCandidates, [300]);
  const alerts: Alert[] = [];
  for (const r of rows) {
    const limit =
      r.metric_name === 'memory_usage_percentage'
        ? limits.memoryPercent
        : r.metric_name === 'cpu_usage_percentage'
          ? limits.cpuPercent
          : null;
    const firing = limit === null ? r.value === 0 : r.value > limit;
    if (firing)
      alerts.push({
        metric_name: r.metric_name,
        tags: r.tags,
        value: r.value,
        limit,
        at: r.last_ts.toISOString(),
      });
  }
  return alerts;
}

export async function summaryView(
  db: Db,
  timeRange: string,
  rangeMs: number,
  limits: Limits,
  now = Date.now(),
): Promise<SummaryView> {
  const to = now - (now % MINUTE) + MINUTE; // through the current, open minute
  const from = to - rangeMs;
  const [metrics, lastHour, alerts] = await Promise.all([
    summary(db, { from, to }),
    rangeMs === HOUR ? Promise.resolve(undefined) : summary(db, { from: to - HOUR, to }),
    activeAlerts(db, limits),
  ]);
  return {
    time_range: timeRange,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    metrics,
    health_score: healthScore(lastHour ?? metrics),
    alert_count: alerts.length,
    alerts,
    computed_at: new Date().toISOString(),
  };
}

export interface TrendView {
  metric_name: string;
  time_range: string;
  resolution: string;
  filters: { source_agent_id?: string; instance_id?: string; tags?: Record<string, string> };
  points: Pick<TrendPoint, 't' | 'avg' | 'min' | 'max' | 'p95' | 'count'>[];
  computed_at: string;
}

export async function trendView(
  db: Db,
  q: {
    metric: string;
    timeRange: string;
    rangeMs: number;
    resolution: string;
    resolutionMs: number;
    sourceAgentId?: string | undefined;
    instanceId?: string | undefined;
    tags?: Record<string, string> | undefined;
  },
  now = Date.now(),
): Promise<TrendView> {
  const to = now - (now % MINUTE) + MINUTE;
  const points = await trend(db, {
    metric: q.metric,
    from: to - q.rangeMs,
    to,
    resolutionMs: q.resolutionMs,
    sourceAgentId: q.sourceAgentId,
    instanceId: q.instanceId,
    tags: q.tags,
  });
  return {
    metric_name: q.metric,
    time_range: q.timeRange,
    resolution: q.resolution,
    filters: {
      ...(q.sourceAgentId !== undefined ? { source_agent_id: q.sourceAgentId } : {}),
      ...(q.instanceId !== undefined ? { instance_id: q.instanceId } : {}),
      ...(q.tags && Object.keys(q.tags).length > 0 ? { tags: q.tags } : {}),
    },
    points: points.map((p) => ({
      t: p.t,
      avg: p.avg,
      min: p.min,
      max: p.max,
      p95: p.p95,
      count: p.count,
    })),
    computed_at: new Date().toISOString(),
  };
}

export async function metricExists(db: Db, metric: string): Promise<boolean> {
  return (await metricIdOf(db, metric)) !== null;
}

export interface SeriesRow {
  id: number;
  metric_name: string;
  source_agent_id: string | null;
  instance_id: string | null;
  tags: Record<string, string>;
}

export interface SeriesPageView {
  series: SeriesRow[];
  /** The cursor of the next page; null on the last page. */
  next_cursor: string | null;
  computed_at: string;
}

/** Rows of a GET /series page: without `limit`, and at most. */
export const SERIES_PAGE = { default: 1_000, max: 10_000 } as const;

/** The first page the API caches and the warm job refreshes: every series, the default limit. */
export const FIRST_SERIES_PAGE = {
  filters: {},
  after: null,
  limit: SERIES_PAGE.default,
} as const satisfies SeriesPageQuery;

export interface SeriesPageQuery {
  filters: SeriesFilters;
  after: SeriesPosition | null;
  limit: number;
}

/** Series in (metric_name, id) order, the `limit` after `after` that match every filter. */
export async function seriesPageView(db: Db, q: SeriesPageQuery): Promise<SeriesPageView> {
  const { filters: f, after } = q;
  const tags = f.tags && Object.keys(f.tags).length > 0 ? JSON.stringify(f.tags) : null;
  const rows = await db.manyOrNone<SeriesRow>(sql.seriesPage, [
    f.metricName ?? null,
    f.sourceAgentId ?? null,
    f.instanceId ?? null,
    tags,
    after?.metricName ?? null,
    after?.id ?? null,
    q.limit + 1,
  ]);
  const series = rows.slice(0, q.limit);
  const last = series.at(-1);
  return {
    series,
    next_cursor:
      rows.length > q.limit && last
        ? encodeCursor({ metricName: last.metric_name, id: last.id }, f)
        : null,
    computed_at: new Date().toISOString(),
  };
}

export interface MetricListView {
  metrics: { metric_name: string; series: number }[];
  computed_at: string;
}

/** Every stored metric and its number of series: one row per metric, from the metrics table. */
export async function metricListView(db: Db): Promise<MetricListView> {
  return {
    metrics: await db.manyOrNone<{ metric_name: string; series: number }>(sql.metricsSeriesCounts),
    computed_at: new Date().toISOString(),
  };
}

export interface RegressionReportView {
  run: {
    run_id: string;
    computed_at: string;
    baseline: { from: string; to: string };
    recent: { from: string; to: string };
    analysed: number;
    listed: number;
  } | null;
  counts: { CRITICAL: number; WARNING: number; NORMAL: number };
  entries: Record<string, unknown>[];
  computed_at: string;
}

interface ReportRow {
  run_id: string;
  computed_at: Date;
  metric_name: string;
  series_id: number | null;
  series: unknown;
  baseline_avg: number;
  recent_avg: number;
  avg_change_percent: number | null;
  p95_change_percent: number | null;
  shift_percent: number | null;
  change_absolute: number;
  shift_absolute: number;
  change_point: Date | null;
  p_value: number;
  direction: string;
  regression_severity: 'NORMAL' | 'WARNING' | 'CRITICAL';
  baseline_zero: boolean;
  seasonality: string | null;
  score: number | null;
  regression_id: number | null;
  first_seen: Date | null;
  last_seen: Date | null;
}

/** A report row with the plan's field names first, times as ISO-8601. */
export function reportEntry(r: ReportRow): Record<string, unknown> {
  return {
    metric_name: r.metric_name,
    baseline_avg: r.baseline_avg,
    recent_avg: r.recent_avg,
    avg_change_percent: r.avg_change_percent,
    p95_change_percent: r.p95_change_percent,
    regression_severity: r.regression_severity,
    change_point: r.change_point?.toISOString() ?? null,
    shift_percent: r.shift_percent,
    change_absolute: r.change_absolute,
    shift_absolute: r.shift_absolute,
    p_value: r.p_value,
    direction: r.direction,
    baseline_zero: r.baseline_zero,
    seasonality: r.seasonality,
    score: r.score,
    series: r.series_id === null ? null : { id: r.series_id, ...(r.series as object) },
    regression_id: r.regression_id,
    first_seen: r.first_seen?.toISOString() ?? null,
    last_seen: r.last_seen?.toISOString() ?? null,
    computed_at: r.computed_at.toISOString(),
  };
}

export async function regressionView(db: Db): Promise<RegressionReportView> {
  const run = await db.oneOrNone<{
    run_id: string;
    computed_at: Date;
    baseline_from: Date;
    baseline_to: Date;
    recent_from: Date;
    recent_to: Date;
    analysed: number;
    listed: number;
  }>(sql.regressionLatestRun);
  const rows = run ? await db.manyOrNone<ReportRow>(sql.regressionLatest) : [];
  const counts = { CRITICAL: 0, WARNING: 0, NORMAL: 0 };
  for (const r of rows) counts[r.regression_severity] += 1;
  return {
    run: run
      ? {
          run_id: run.run_id,
          computed_at: run.computed_at.toISOString(),
          baseline: { from: run.baseline_from.toISOString(), to: run.baseline_to.toISOString() },
          recent: { from: run.recent_from.toISOString(), to: run.recent_to.toISOString() },
          analysed: run.analysed,
          listed: run.listed,
        }
      : null,
    counts,
    entries: rows.map(reportEntry),
    computed_at: new Date().toISOString(),
  };
}

export async function regressionHistory(
  db: Db,
  since: Date,
  limit: number,
): Promise<Record<string, unknown>[]> {
  return (await db.manyOrNone<ReportRow>(sql.regressionHistory, [since, limit])).map(reportEntry);
}
