// Names of the dashboard cache's entries, shared by the API (which reads them) and the warm job
// (which writes them). Names never contain `*`: invalidation patterns use it as the wildcard.
import { createHash } from 'node:crypto';

export const cacheName = {
  summary: (range: string) => `summary:${range}`,
  trend: (metric: string, range: string, resolution: string, filters: object) =>
    `trend:${metric}:${range}:${resolution}:${Object.keys(filters).length === 0 ? '-' : createHash('sha1').update(JSON.stringify(filters)).digest('hex').slice(0, 16)}`,
  series: () => 'series',
  regressions: () => 'regressions:latest',
};
