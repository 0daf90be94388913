// The Express app factory: thin routes over the domain, one error handler, request logs
// with a request id. It opens no connections itself; main.ts hands it what it needs.
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Redis } from 'ioredis';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { errorHandler, notFound } from './errors.js';
import { healthRouter } from './health.js';
import { countIngestRequests, ingestRouter, type IngestDeps } from './ingest.js';
import { metricsRouter } from './metrics.js';
import helmet from 'helmet';
import type { Queue } from 'bullmq';
import { FailedAuthLimiter } from './auth.js';
import { BULL_BOARD_PATH, bullBoard } from './bull-board.js';
import { dashboardRouter, type DashboardDeps } from './dashboard.js';
import type { Telemetry } from '../infra/telemetry.js';
import { webRouter } from './web.js';

export interface AppDeps {
  log: Logger;
  redis: Redis;
  db: Db;
  maxBody: string;
  telemetry: Telemetry;
  /** The ingest API; absent in a worker's own HTTP server (health and metrics only). */
  ingest?: Omit<IngestDeps, 'log' | 'telemetry' | 'limiter'> | undefined;
  /** The read API, admin routes and Bull Board; absent in a worker's own HTTP server. */
  dashboard?: (Omit<DashboardDeps, 'limiter'> & { queues: Queue[] }) | undefined;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // Request logs are info lines; at a quieter level the middleware is left out altogether
  // (it cost about a quarter of the API's CPU under load even with nothing to write).
  if (deps.log.isLevelEnabled('info'))
    app.use(
      pinoHttp({
        logger: deps.log,
        genReqId: (req, res) => {
          const given = req.headers['x-request-id'];
          const id =
            typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
          res.setHeader('x-request-id', id);
          return id;
        },
        // Probes every few seconds would drown the log.
        autoLogging: {
          ignore: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url ?? ''),
        },
      }),
    );
  // Bull Board's pages load their own scripts and styles; the policy allows exactly those.
  app.use(
    helmet({
      contentSecurityPolicy: { directives: { 'script-src': ["'self'", "'unsafe-inline'"] } },
    }),
  );
  app.use(healthRouter({ redis: deps.redis, db: deps.db }));
  app.use(metricsRouter(deps.telemetry.registry));
  const limiter = new FailedAuthLimiter();
  if (deps.dashboard) {
    const { queues, adminToken, readToken } = deps.dashboard;
    app.use(BULL_BOARD_PATH, ...bullBoard({ queues, adminToken, readToken, limiter }));
  }
  if (deps.ingest || deps.dashboard) {
    const api = express.Router();
    api.use(countIngestRequests(deps.telemetry));
    const json = express.json({
      limit: deps.maxBody,
      type: ['application/json', 'application/*+json'],
    });
    // Reads have no body: the hot GET path skips the parser.
    api.use((req, res, next) =>
      req.method === 'GET' || req.method === 'HEAD' ? next() : json(req, res, next),
    );
    if (deps.ingest)
      api.use(ingestRouter({ ...deps.ingest, log: deps.log, telemetry: deps.telemetry, limiter }));
    if (deps.dashboard) api.use(dashboardRouter({ ...deps.dashboard, limiter }));
    app.use('/api/v1', api);
  }
  // The web dashboard, outside auth: the page asks for the read token when the API answers 401.
  if (deps.dashboard) app.use(webRouter());
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
