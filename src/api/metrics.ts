// GET /metrics: pulse's own metrics in the Prometheus text format, outside auth like the
// health checks, so any scraper can watch pulse.
import { Router } from 'express';
import type { Registry } from 'prom-client';

export function metricsRouter(registry: Registry): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
