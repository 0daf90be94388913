// GET /metrics: pulse's own metrics in the Prometheus text format, outside auth like the
// health checks, so any scraper can watch pulse.
import type { RouteTable } from './routes.js';
import type { Registry } from 'prom-client';

/** Adds GET /metrics to `router`. */
export function metricsRoutes(router: RouteTable, registry: Registry): void {
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
}
