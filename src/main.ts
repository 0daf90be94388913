// Entry point. Roles: `all` (default, what `npm start` runs), `worker`, `api`. Start-up order:
// config → Redis and PostgreSQL (embedded when no URL) → migrations → queues → roles.
import type { Server } from 'node:http';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'bullmq';
import { createApp } from './api/app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDb, type Db } from './infra/db.js';
import { postgresFor, redisFor } from './infra/embedded.js';
import { keysFor } from './infra/keys.js';
import { createLogger, type Logger } from './infra/logger.js';
import { migrate } from './metrics/schema.js';
import { closeRedis, createRedis } from './infra/redis.js';
import { createShutdown, onSignals, type Shutdown, type Step } from './infra/shutdown.js';
import { createTelemetry, observeWorker } from './infra/telemetry.js';
import { PointBuffer } from './metrics/buffer.js';
import { ensurePartitions } from './metrics/partitions.js';
import { SeriesRegistry } from './metrics/series-registry.js';
import { PointStore, storedSeries } from './metrics/store.js';
import { releaseRunning } from './workers/abortable.js';
import { startFlushWorker } from './workers/flush-worker.js';
import { startProcessSampling } from './workers/process-sampling.js';
import { startSampleWorker } from './workers/sample-worker.js';
import {
  startRegressionWorker,
  startUpkeepWorkers,
  startWarmWorker,
} from './workers/upkeep-workers.js';
import type { RegressionRun } from './jobs/regression.js';
import { DashboardCache } from './cache/dashboard-cache.js';
import { createQueues, requestFlush, requestWarm } from './workers/queues.js';
import { ensureSchedulers } from './workers/schedulers.js';

export interface Running {
  /** The HTTP port actually bound (api and all roles). */
  port: number | undefined;
  stop: Shutdown;
}

export async function start(config: Config, log: Logger): Promise<Running> {
  const steps: Step[] = [];
  const stop = createShutdown(steps, log);
  // Later steps are unshifted, so shutdown runs in the reverse order of start-up.
  const onStop = (name: string, run: Step['run'], always = false, first = false) =>
    steps.unshift({ name, run, always, first });
  // Every BullMQ worker: how to abort its running jobs and how to close it.
  const workers: { cancel(): void; close(): Promise<void> }[] = [];
  // The workers whose handlers take an abort signal (abortable.ts).
  const abortable: Worker[] = [];
  try {
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
    // Segments shorter than an hour would let noise pass for a change point.
    const regressionConfig = {
      ...config.regression,
      minSegmentMinutes: 60,
      seriesLimits: config.series,
    };
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
        buffer,
        log: log.child({ sampler: 'process' }),
        intervalMs: config.sampling.intervalMs,
        tags: { ...baseTags, role: config.role },
        acceptMs: config.retention.acceptMs,
        seriesLimited: (metric, n) => telemetry.seriesLimited(metric, n),
      });
      onStop('process sampler', () => processSampling.stop());
    }

    if (config.role !== 'api') {
      const schedulers = {
        flushIntervalMs: config.flush.intervalMs,
        flushAttempts: config.flush.attempts,
        aggregateIntervalMs: config.aggregateIntervalMs,
        maintenanceIntervalMs: config.maintenanceIntervalMs,
        regressionIntervalMs: config.regression.intervalMs,
        samplers: config.sampling.samplers,
        sampleIntervalMs: config.sampling.intervalMs,
        scrapeTargets: config.sampling.scrapeTargets,
      };
      const removed = await ensureSchedulers(queues, schedulers);
      if (removed.length > 0)
        log.info({ removed }, 'removed schedulers of samplers no longer configured');
      // A Redis that restarted empty lost the schedulers and the buffer's group: put them back
      // on every reconnect (both are idempotent).
      let connectedOnce = false;
      bullRedis.on('ready', () => {
        if (!connectedOnce) {
          connectedOnce = true;
          return;
        }
        Promise.all([ensureSchedulers(queues, schedulers), buffer.ensureGroup()]).catch(
          (err: unknown) =>
            log.warn(
              { err: (err as Error).message },
              'could not restore schedulers after a Redis reconnect',
            ),
        );
      });
      const flushWorker = startFlushWorker({
        connection: bullRedis,
        prefix: config.prefix,
        buffer,
        store: new PointStore(db),
        log: log.child({ queue: 'flush' }),
        concurrency: config.flush.concurrency,
        readEntries: config.flush.readEntries,
        claimIdleMs: config.flush.claimIdleMs,
      });
      onStop('flush worker', () => flushWorker.close());
      // Its close() aborts the flush's own signal: the batch in COPY ends, no new one starts.
      workers.push({ cancel: () => undefined, close: () => flushWorker.close() });
      observeWorker(telemetry, 'flush', flushWorker.worker);
      flushWorker.worker.on('completed', (job, result) => {
        telemetry.pointsFlushed.inc(result.inserted);
        telemetry.pointsDuplicate.inc(result.duplicates);
        telemetry.flushBatchSeconds.observe(result.ms / 1_000);
      });
      const sampleWorker = startSampleWorker({
        connection: bullRedis,
        prefix: config.prefix,
        db,
        redis,
        buffer,
        keys,
        queues: queues.all(),
        log: log.child({ queue: 'sample' }),
        baseTags,
        dataDir: config.dataDir,
        scrapeTimeoutMs: config.sampling.scrapeTimeoutMs,
        scrapeSampleLimit: config.sampling.scrapeSampleLimit,
        scrapeTargets: config.sampling.scrapeTargets,
        acceptMs: config.retention.acceptMs,
        critical: {
          memoryPercent: config.sampling.criticalMemoryPercent,
          cpuPercent: config.sampling.criticalCpuPercent,
        },
        requestFlush: () => requestFlush(queues, 'critical'),
        seriesLimited: (metric, n) => telemetry.seriesLimited(metric, n),
      });
      onStop('sample worker', () => sampleWorker.close());
      observeWorker(telemetry, 'sample', sampleWorker);
      const upkeep = startUpkeepWorkers({
        connection: bullRedis,
        prefix: config.prefix,
        db,
        log: log.child({ queue: 'upkeep' }),
        retention: { ...config.retention, regressionMs: config.regression.retentionMs },
        series,
      });
      // One warm pass at a time across the fleet: a pass that outlives WARM_INTERVAL makes
      // the next one wait instead of running beside it on another worker.
      await queues.warm.setGlobalConcurrency(1);
      const warmWorker = startWarmWorker({
        connection: bullRedis,
        prefix: config.prefix,
        db,
        cache,
        log: log.child({ queue: 'warm' }),
        limits,
        ttlMs: config.cache.ttlMs,
      });
      const regressionWorker = startRegressionWorker({
        connection: bullRedis,
        prefix: config.prefix,
        db,
        log: log.child({ queue: 'regression' }),
        config: regressionConfig,
        cache: { cache, ttlMs: config.cache.ttlMs },
      });
      regressionWorker.on('completed', (_job, result: unknown) => {
        const counts = (result as RegressionRun).counts;
        for (const [severity, n] of Object.entries(counts))
          telemetry.regressions.set({ severity }, n);
        void warmSoon('regression');
      });
      for (const worker of [...upkeep, warmWorker, regressionWorker]) {
        onStop(`${worker.name} worker`, () => worker.close());
        observeWorker(telemetry, worker.name, worker);
      }
      for (const worker of [sampleWorker, ...upkeep, warmWorker, regressionWorker]) {
        abortable.push(worker);
        workers.push({
          cancel: () => worker.cancelAllJobs('shutdown'),
          close: () => worker.close(),
        });
      }
      // A graceful shutdown has closed every worker before this step, so it finds nothing. On
      // a forced exit the jobs still running go back to wait, for the next start to run at
      // once; it runs before the embedded Redis stops.
      onStop(
        'release interrupted jobs',
        async () => {
          const moved = await releaseRunning(abortable);
          if (moved > 0) log.warn({ moved }, 'jobs still running were moved back to wait');
        },
        true,
        true,
      );
      // New data makes the dashboard stale: warm it, at most once per WARM_INTERVAL.
      const warmSoon = (reason: 'flush' | 'aggregate' | 'regression') =>
        requestWarm(queues, reason, config.cache.warmIntervalMs).catch((err: unknown) =>
          log.warn({ err: (err as Error).message }, 'could not ask for a cache warm-up'),
        );
      flushWorker.worker.on('completed', (_job, result) => {
        if (result.inserted > 0) void warmSoon('flush');
      });
      const aggregateWorker = upkeep.find((w) => w.name === 'aggregate');
      aggregateWorker?.on('completed', (_job, result: unknown) => {
        if ((result as { rows?: number } | undefined)?.rows) void warmSoon('aggregate');
      });
    }

    if (config.role !== 'worker') {
      // Invalidations and fresh warm-ups from any process reach this one's L1.
      await cache.subscribe();
    }
    onStop('cache', () => cache.close());

    let port: number | undefined;
    // A worker alone serves only /healthz, /readyz and /metrics, and only when WORKER_PORT is set.
    const httpPort = config.role === 'worker' ? config.workerPort : config.http.port;
    if (httpPort !== undefined) {
      const app = createApp({
        log,
        redis,
        db,
        maxBody: config.ingest.maxBody,
        telemetry,
        trustProxy: config.http.trustProxy,
        dashboard:
          config.role === 'worker'
            ? undefined
            : {
                db,
                redis,
                cache,
                limits,
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
                buffer,
                token: config.ingest.token,
                maxPoints: config.ingest.maxPoints,
                acceptMs: config.retention.acceptMs,
                flushBatch: config.flush.batchPoints,
                flushIntervalMs: config.flush.intervalMs,
                requestFlush: () => requestFlush(queues, 'threshold'),
              },
      });
      const server = await listen(app, httpPort, config.http.host);
      port = (server.address() as { port: number }).port;
      onStop('http server', () => closeServer(server));
      log.info({ port, host: config.http.host }, `pulse API listening on http://localhost:${port}`);
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
