// Names of the dashboard cache's entries, shared by the API (which reads them) and the warm job
// (which writes them). Names never contain `*`: invalidation patterns use it as the wildcard.
import { createHash } from 'node:crypto';

export const cacheName = {
  summary: (range: string) => `summary:${range}`,
  trend: (metric: string, range: string, resolution: string, filters: object) =>
    `trend:${metric}:${range}:${resolution}:${Object.keys(filters).length === 0 ? '-' : createHash('sha1').update(JSON.stringify(filters)).digest('hex').slice(0, 16)}`,
  /**
   * The first page of GET /series at the default limit: unfiltered, or of one stored metric.
   * No other page or filter is cached, so the entries are bounded by the number of metrics.
   */
  seriesFirstPage: (metric?: string) =>
    metric === undefined ? 'series:first' : `series:first:${metric}`,
  metrics: () => 'metrics',
  regressions: () => 'regressions:latest',
};
