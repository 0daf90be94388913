// The warm job: computes what dashboards read ahead of time — the summary for 1 h, 24 h and
// 7 d (with health score and alerts), the metric list, every metric's trend at the standard
// pairs, the first page of series — and puts each in the cache, so a dashboard request never
// waits for SQL. The metrics come from the metrics table (one row each), not from the series.
import { makeEntry, type DashboardCache } from '../cache/dashboard-cache.js';
import { cacheName } from '../cache/names.js';
import { throwIfAborted } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { compactMetricRollups } from '../metrics/metric-rollup-upkeep.js';
import {
  FIRST_SERIES_PAGE,
  metricListView,
  regressionView,
  seriesPageView,
  summaryView,
  trendView,
  type Limits,
} from '../metrics/dashboard.js';
import { MINUTE, HOUR, DAY } from '../infra/time.js';

export interface WarmPayload {
  reason: 'flush' | 'aggregate' | 'regression' | 'schedule' | 'manual';
}

export interface WarmResult {
  entries: number;
  ms: number;
}

export interface WarmDeps {
  db: Db;
  cache: DashboardCache;
  log: Logger;
  limits: Limits;
  ttlMs: number;
  /** Stops the pass between entries (shutdown); it is then run again from the start. */
  signal?: AbortSignal;
}

export const STANDARD_RANGES: [string, number][] = [
  ['1h', HOUR],
  ['24h', DAY],
  ['7d', 7 * DAY],
];

export const STANDARD_TRENDS: [string, number, string, number][] = [
  ['1h', HOUR, '1m', MINUTE],
  ['24h', DAY, '5m', 5 * MINUTE],
  ['7d', 7 * DAY, '1h', HOUR],
];

export async function warm(deps: WarmDeps, _payload: WarmPayload): Promise<WarmResult> {
  const started = Date.now();
  // Fewer partial rows make every read below cheaper; skipped while another process compacts.
  await compactMetricRollups(deps.db, { signal: deps.signal });
  let entries = 0;
  const put = async (name: string, value: unknown) => {
    throwIfAborted(deps.signal);
    await deps.cache.put(name, makeEntry(value, deps.ttlMs), { announce: true });
    entries += 1;
  };
  for (const [text, ms] of STANDARD_RANGES)
    await put(cacheName.summary(text), await summaryView(deps.db, text, ms, deps.limits));
  await put(cacheName.regressions(), await regressionView(deps.db));
  const metrics = await metricListView(deps.db);
  await put(cacheName.metrics(), metrics);
  await put(cacheName.seriesFirstPage(), await seriesPageView(deps.db, FIRST_SERIES_PAGE));
  for (const { metric_name: metric } of metrics.metrics) {
    for (const [range, rangeMs, resolution, resolutionMs] of STANDARD_TRENDS) {
      await put(
        cacheName.trend(metric, range, resolution, {}),
        await trendView(deps.db, { metric, timeRange: range, rangeMs, resolution, resolutionMs }),
      );
    }
  }
  const ms = Date.now() - started;
  deps.log.debug({ entries, ms }, 'dashboard cache warmed');
  return { entries, ms };
}
