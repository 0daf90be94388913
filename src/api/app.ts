// The Express app factory: thin routes over the domain, one error handler, request logs
// with a request id. It opens no connections itself; main.ts hands it what it needs.
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Redis } from 'ioredis';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { errorHandler, notFound } from './errors.js';
import { healthRoutes } from './health.js';
import { ingestRoutes, type IngestDeps } from './ingest.js';
import { metricsRoutes } from './metrics.js';
import helmet from 'helmet';
import type { Queue } from 'bullmq';
import { FailedAuthLimiter } from './auth.js';
import { BULL_BOARD_PATH, bullBoard } from './bull-board.js';
import { dashboardRoutes, type DashboardDeps } from './dashboard.js';
import type { Telemetry } from '../infra/telemetry.js';
import { under } from './routes.js';
import { webRouter } from './web.js';

export interface AppDeps {
  log: Logger;
  redis: Redis;
  db: Db;
  maxBody: string;
  telemetry: Telemetry;
  /** TRUST_PROXY: which peers may name the client (X-Forwarded-For); none when unset. */
  trustProxy?: boolean | number | string[];
  /** The ingest API; absent in a worker's own HTTP server (health and metrics only). */
  ingest?: Omit<IngestDeps, 'log' | 'telemetry' | 'limiter' | 'json'> | undefined;
  /** The read API, admin routes and Bull Board; absent in a worker's own HTTP server. */
  dashboard?: (Omit<DashboardDeps, 'limiter' | 'json'> & { queues: Queue[] }) | undefined;
}

/** The security headers of every JSON answer. */
export const API_HEADERS: readonly (readonly [string, string])[] = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['X-Frame-Options', 'DENY'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Referrer-Policy', 'no-referrer'],
];

/** The API and the probes: everything that answers JSON or metrics text, not a page. */
function isJsonPath(url: string): boolean {
  return (
    url.startsWith('/api/') ||
    url === '/healthz' ||
    url === '/readyz' ||
    url === '/metrics' ||
    url.startsWith('/metrics?')
  );
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // req.ip is the client the failed-login limiter counts: the peer itself unless TRUST_PROXY
  // names the proxies in front, whose X-Forwarded-For then says who the client is.
  app.set('trust proxy', deps.trustProxy ?? false);
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
  // Pages (the dashboard, Bull Board) get helmet's full set; Bull Board's pages load their own
  // scripts and styles, and the policy allows exactly those. JSON answers get the set a REST
  // API needs (OWASP's): no sniffing, no framing, nothing loaded from them, same-origin only;
  // the browser-document headers would cost every read for nothing.
  const pageHeaders = helmet({
    contentSecurityPolicy: { directives: { 'script-src': ["'self'", "'unsafe-inline'"] } },
  });
  app.use((req, res, next) => {
    if (!isJsonPath(req.url)) {
      pageHeaders(req, res, next);
      return;
    }
    for (const [name, value] of API_HEADERS) res.setHeader(name, value);
    next();
  });
  // Every route sits on the app itself (see routes.ts), the hot read routes first.
  const limiter = new FailedAuthLimiter();
  if (deps.ingest || deps.dashboard) {
    const api = under(app, '/api/v1');
    // Bodies are parsed by the routes that take one, after their token check: the hot GET
    // path passes through no parser, and no unauthenticated body is ever read.
    const jsonUpTo = (limit: string | number) =>
      express.json({ limit, type: ['application/json', 'application/*+json'] });
    const json = jsonUpTo(deps.maxBody);
    // Admin requests are a few fields: a large body there is refused (413) unread.
    if (deps.dashboard)
      dashboardRoutes(api, { ...deps.dashboard, limiter, json: jsonUpTo('16kb') });
    if (deps.ingest)
      ingestRoutes(api, {
        ...deps.ingest,
        log: deps.log,
        telemetry: deps.telemetry,
        limiter,
        json,
      });
  }
  healthRoutes(app, { redis: deps.redis, db: deps.db });
  metricsRoutes(app, deps.telemetry.registry);
  if (deps.dashboard) {
    const { queues, adminToken, readToken } = deps.dashboard;
    app.use(BULL_BOARD_PATH, ...bullBoard({ queues, adminToken, readToken, limiter }));
  }
  // The web dashboard, outside auth: the page asks for the read token when the API answers 401.
  if (deps.dashboard) app.use(webRouter());
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
