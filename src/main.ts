// Entry point. Roles: `all` (default, what `npm start` runs), `worker`, `api`. Start-up order:
// config → Redis and PostgreSQL (embedded when no URL) → migrations → queues → roles.
import type { Server } from 'node:http';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { createApp } from './api/app.js';
import { DashboardCache } from './cache/dashboard-cache.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDb, type Db } from './infra/db.js';
import { postgresFor, redisFor } from './infra/embedded.js';
import { keysFor } from './infra/keys.js';
import { createLogger, type Logger } from './infra/logger.js';
import { migrate } from './metrics/schema.js';
import { closeRedis, createRedis } from './infra/redis.js';
import { createShutdown, onSignals, type Shutdown, type Step } from './infra/shutdown.js';
import { createTelemetry } from './infra/telemetry.js';
import { PointBuffer } from './metrics/buffer.js';
import type { Limits } from './metrics/dashboard.js';
import { ensurePartitions } from './metrics/partitions.js';
import { SeriesRegistry } from './metrics/series-registry.js';
import { storedSeries } from './metrics/store.js';
import { startProcessSampling } from './workers/process-sampling.js';
import { createQueues, requestFlush } from './workers/queues.js';
import { startWorkerRole, type OnStop, type WorkerRoleDeps } from './workers/worker-role.js';

export interface Running {
  /** The HTTP port actually bound (api and all roles). */
  port: number | undefined;
  stop: Shutdown;
}

export async function start(config: Config, log: Logger): Promise<Running> {
  const steps: Step[] = [];
  const stop = createShutdown(steps, log);
  // Later steps are unshifted, so shutdown runs in the reverse order of start-up.
  const onStop: OnStop = (name, run, always = false, first = false) =>
    void steps.unshift({ name, run, always, first });
  try {
    const services = await startServices(config, log, onStop);
    const stores = await startStores(config, log, services, onStop);
    const limits = {
      memoryPercent: config.sampling.criticalMemoryPercent,
      cpuPercent: config.sampling.criticalCpuPercent,
    };
    // The plan's tags, on every sampled point.
    const baseTags = {
      hostname: os.hostname(),
      instance_id: config.instanceId,
      environment: config.environment,
    };
    if (config.sampling.samplers.includes('process')) {
      const processSampling = startProcessSampling({
        buffer: stores.buffer,
        log: log.child({ sampler: 'process' }),
        intervalMs: config.sampling.intervalMs,
        tags: { ...baseTags, role: config.role },
        acceptMs: config.retention.acceptMs,
        seriesLimited: (metric, n) => stores.telemetry.seriesLimited(metric, n),
      });
      onStop('process sampler', () => processSampling.stop());
    }
    const workers =
      config.role === 'api'
        ? []
        : await startWorkerRole({ config, log, ...services, ...stores, baseTags, limits }, onStop);
    if (config.role !== 'worker') {
      // Invalidations and fresh warm-ups from any process reach this one's L1.
      await stores.cache.subscribe();
    }
    onStop('cache', () => stores.cache.close());
    const port = await startHttp(config, log, { ...services, ...stores, limits }, onStop);
    // The first step of a shutdown: every running job is aborted (its handler stops at the next
    // check or has its statement cancelled, and the job goes back to wait), then every worker
    // closes at once, so no close waits out a long job.
    if (workers.length > 0)
      onStop('stop jobs', async () => {
        for (const w of workers) w.cancel();
        await Promise.all(workers.map((w) => w.close()));
      });
    log.info({ prefix: config.prefix }, 'pulse started');
    return { port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface Services {
  db: Db;
  redis: Redis;
  bullRedis: Redis;
}

/** Redis and PostgreSQL (embedded when no URL), migrated, and the connections to them. */
async function startServices(config: Config, log: Logger, onStop: OnStop): Promise<Services> {
  const redisService = await redisFor(config, log);
  onStop('embedded redis', () => redisService.stop(), true);
  const pgService = await postgresFor(config, log);
  onStop('embedded postgres', () => pgService.stop(), true);

  const db = createDb(pgService.url, config.postgres.poolSize, `pulse-${config.role}`, (err) =>
    log.warn({ err: err.message }, 'an idle PostgreSQL connection was closed by the server'),
  );
  onStop('postgres pool', () => db.$pool.end());
  await waitForPostgres(db, log);
  await migrate(db, log);
  await ensurePartitions(db);

  const redis = createRedis(redisService.url, `pulse-${config.role}`, 'command');
  onStop('redis', () => closeRedis(redis));
  const bullRedis = createRedis(redisService.url, `pulse-${config.role}-bullmq`, 'bullmq');
  onStop('redis (bullmq)', () => closeRedis(bullRedis));
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  bullRedis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  return { db, redis, bullRedis };
}

/** What startStores() makes, as the worker role takes it. */
type Stores = Pick<WorkerRoleDeps, 'keys' | 'series' | 'buffer' | 'queues' | 'telemetry' | 'cache'>;

/** The point buffer, the queues, the telemetry and the dashboard cache. */
async function startStores(
  config: Config,
  log: Logger,
  { db, redis, bullRedis }: Services,
  onStop: OnStop,
): Promise<Stores> {
  const keys = keysFor(config.prefix);
  const series = new SeriesRegistry(redis, keys, config.series, storedSeries(db));
  const buffer = new PointBuffer(redis, keys, { ...config.buffer, series });
  await buffer.ensureGroup();
  const queues = createQueues(bullRedis, config.prefix, config.flush.attempts);
  onStop('queues', () => queues.close());
  const telemetry = createTelemetry({
    bufferDepth: () => buffer.depth(),
    deadLetters: () => buffer.deadLetterCount(),
    bufferBytes: () => buffer.bytes(),
    activeSeries: () => series.active(),
  });
  const cache = new DashboardCache(redis, keys, log.child({ component: 'cache' }));
  // Every result is shown from the start (0 misses is a figure too, and rates need a series).
  for (const result of ['l1', 'l2', 'miss']) telemetry.cacheLookups.inc({ result }, 0);
  cache.onLookup = (served) =>
    telemetry.cacheLookups.inc({ result: served === 'computed' ? 'miss' : served });
  return { keys, series, buffer, queues, telemetry, cache };
}

/** The HTTP server, when the role has a port; resolves with the port bound. */
async function startHttp(
  config: Config,
  log: Logger,
  deps: Services & Stores & { limits: Limits },
  onStop: OnStop,
): Promise<number | undefined> {
  const { db, redis, cache, queues } = deps;
  // A worker alone serves only /healthz, /readyz and /metrics, and only when WORKER_PORT is set.
  const httpPort = config.role === 'worker' ? config.workerPort : config.http.port;
  if (httpPort === undefined) return undefined;
  // Loaded only by a role that listens: a worker without WORKER_PORT never holds the HTTP stack
  // (Express, Bull Board, the routes), ~12 MB of its RSS.
  const { createApp } = await import('./api/app.js');
  const app = createApp({
    log,
    redis,
    db,
    maxBody: config.ingest.maxBody,
    telemetry: deps.telemetry,
    trustProxy: config.http.trustProxy,
    dashboard:
      config.role === 'worker'
        ? undefined
        : {
            db,
            redis,
            cache,
            limits: deps.limits,
            ttlMs: config.cache.ttlMs,
            readToken: config.auth.readToken,
            adminToken: config.auth.adminToken,
            queues: queues.all(),
            regressionQueue: queues.regression,
            regressionRetentionMs: config.regression.retentionMs,
          },
    ingest:
      config.role === 'worker'
        ? undefined
        : {
            buffer: deps.buffer,
            token: config.ingest.token,
            maxPoints: config.ingest.maxPoints,
            acceptMs: config.retention.acceptMs,
            flushBatch: config.flush.batchPoints,
            flushIntervalMs: config.flush.intervalMs,
            requestFlush: () => requestFlush(queues, 'threshold'),
          },
  });
  const server = await listen(app, httpPort, config.http.host);
  const port = (server.address() as { port: number }).port;
  onStop('http server', () => closeServer(server));
  log.info({ port, host: config.http.host }, `pulse API listening on http://localhost:${port}`);
  logExposure(config, log);
  return port;
}

/** What the bind address and the proxy setting let through, once the server listens. */
function logExposure(config: Config, log: Logger): void {
  if (config.http.loopbackForLackOfTokens)
    log.info(
      'listening on 127.0.0.1 only: INGEST_TOKEN and READ_TOKEN are not both set (set them to listen on every interface, or set HOST)',
    );
  if (config.http.openToNetwork)
    log.warn(
      { host: config.http.host },
      'ALLOW_UNAUTHENTICATED=true: ingest or reads answer anyone who reaches this port; set INGEST_TOKEN and READ_TOKEN',
    );
  if (config.http.trustProxy === true)
    log.warn(
      'TRUST_PROXY=true: any client can name its own address in X-Forwarded-For; list the proxies (addresses, CIDR ranges or loopback) instead unless one overwrites that header',
    );
}

async function waitForPostgres(db: Db, log: Logger): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      await db.one('SELECT 1 AS ok');
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error('PostgreSQL did not answer within 30 s', { cause: err });
      log.warn(
        { attempt, err: (err as Error).message },
        'PostgreSQL does not answer yet; retrying',
      );
      await sleep(Math.min(5_000, 250 * 2 ** attempt));
    }
  }
}

function listen(app: ReturnType<typeof createApp>, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
  });
}

async function main(): Promise<void> {
  const role = process.argv[2];
  let config: Config;
  try {
    config = loadConfig(role ? { ...process.env, PULSE_ROLE: role } : process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`pulse: ${err.message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel, { role: config.role });
  try {
    const running = await start(config, log);
    onSignals(running.stop, log, config.shutdownTimeoutMs);
  } catch (err) {
    log.fatal({ err }, `pulse could not start: ${(err as Error).message}`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
