// The worker role's start-up: the schedulers (put back after a Redis that restarted empty),
// every BullMQ worker, the telemetry read from their results, the pipeline between them
// (pipeline.ts) and their shutdown steps.
import type { Redis } from 'ioredis';
import type { DashboardCache } from '../cache/dashboard-cache.js';
import type { Config } from '../config.js';
import type { Db } from '../infra/db.js';
import type { Keys } from '../infra/keys.js';
import type { Logger } from '../infra/logger.js';
import type { Step } from '../infra/shutdown.js';
import type { Telemetry } from '../infra/telemetry.js';
import type { PointBuffer } from '../metrics/buffer.js';
import type { Limits } from '../metrics/dashboard.js';
import type { SeriesRegistry } from '../metrics/series-registry.js';
import type { Tags } from '../metrics/series.js';
import { PointStore } from '../metrics/store.js';
import { releaseRunning } from './abortable.js';
import { startFlushWorker, type FlushWorker } from './flush-worker.js';
import { connectPipeline } from './pipeline.js';
import { requestFlush, type Queues } from './queues.js';
import { startSampleWorker } from './sample-worker.js';
import { ensureSchedulers, type SchedulerOptions } from './schedulers.js';
import type { PulseWorker } from './start-worker.js';
import {
  startRegressionWorker,
  startUpkeepWorkers,
  startWarmWorker,
  type UpkeepWorkers,
} from './upkeep-workers.js';

export interface WorkerRoleDeps {
  config: Config;
  log: Logger;
  db: Db;
  redis: Redis;
  bullRedis: Redis;
  keys: Keys;
  series: SeriesRegistry;
  buffer: PointBuffer;
  queues: Queues;
  telemetry: Telemetry;
  cache: DashboardCache;
  /** The plan's tags, on every sampled point. */
  baseTags: Tags;
  limits: Limits;
}

/** Adds a shutdown step; later steps run first (see main.ts). */
export type OnStop = (name: string, run: Step['run'], always?: boolean, first?: boolean) => void;

/** How shutdown aborts a worker's running jobs and closes it. */
export interface Stoppable {
  cancel(): void;
  close(): Promise<void>;
}

/** Starts every worker of the role; resolves with them, for the shutdown's `stop jobs` step. */
export async function startWorkerRole(deps: WorkerRoleDeps, onStop: OnStop): Promise<Stoppable[]> {
  const { config, log, telemetry } = deps;
  await keepSchedulers(deps);
  const flush = startFlush(deps);
  onStop('flush worker', () => flush.close());
  const sample = startSample(deps);
  onStop('sample worker', () => sample.close());
  const upkeep = startUpkeep(deps);
  // One warm pass at a time across the fleet: a pass that outlives WARM_INTERVAL makes
  // the next one wait instead of running beside it on another worker.
  await deps.queues.warm.setGlobalConcurrency(1);
  const warm = startWarm(deps);
  const regression = startRegression(deps);
  regression.on('completed', (_job, result) => {
    for (const [severity, n] of Object.entries(result.counts))
      telemetry.regressions.set({ severity }, n);
  });
  const abortable = [
    sample,
    upkeep.aggregate,
    upkeep.maintenance,
    upkeep.backfill,
    warm,
    regression,
  ];
  for (const worker of abortable.slice(1)) onStop(`${worker.name} worker`, () => worker.close());
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
  connectPipeline(
    { flush: flush.worker, aggregate: upkeep.aggregate, regression },
    { queues: deps.queues, warmIntervalMs: config.cache.warmIntervalMs, log },
  );
  return [
    // Its close() aborts the flush's own signal: the batch in COPY ends, no new one starts.
    { cancel: () => undefined, close: () => flush.close() },
    ...abortable.map((worker) => ({
      cancel: () => worker.cancelAllJobs('shutdown'),
      close: () => worker.close(),
    })),
  ];
}

/** Upserts the schedulers now and again on every Redis reconnect after the first connection. */
async function keepSchedulers(deps: WorkerRoleDeps): Promise<void> {
  const { config, log, queues, buffer } = deps;
  const schedulers: SchedulerOptions = {
    flushIntervalMs: config.flush.intervalMs,
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
  deps.bullRedis.on('ready', () => {
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
}

/** What every worker of the role is built with: the BullMQ connection and a logger for `queue`. */
function workerBase(deps: WorkerRoleDeps, queue: string) {
  return {
    connection: deps.bullRedis,
    prefix: deps.config.prefix,
    db: deps.db,
    log: deps.log.child({ queue }),
    telemetry: deps.telemetry,
  };
}

function startFlush(deps: WorkerRoleDeps): FlushWorker {
  const { config, telemetry } = deps;
  const flush = startFlushWorker({
    ...workerBase(deps, 'flush'),
    buffer: deps.buffer,
    // Its series id cache holds at most the series that may be active at once.
    store: new PointStore(deps.db, config.series.maxSeries),
    concurrency: config.flush.concurrency,
    readEntries: config.flush.readEntries,
    claimIdleMs: config.flush.claimIdleMs,
  });
  flush.worker.on('completed', (_job, result) => {
    telemetry.pointsFlushed.inc(result.inserted);
    telemetry.pointsDuplicate.inc(result.duplicates);
    telemetry.flushBatchSeconds.observe(result.ms / 1_000);
  });
  return flush;
}

function startSample(deps: WorkerRoleDeps): PulseWorker<'sample'> {
  const { config, telemetry } = deps;
  return startSampleWorker({
    ...workerBase(deps, 'sample'),
    redis: deps.redis,
    buffer: deps.buffer,
    keys: deps.keys,
    queues: deps.queues.all(),
    baseTags: deps.baseTags,
    dataDir: config.dataDir,
    scrapeTimeoutMs: config.sampling.scrapeTimeoutMs,
    scrapeSampleLimit: config.sampling.scrapeSampleLimit,
    scrapeTargets: config.sampling.scrapeTargets,
    acceptMs: config.retention.acceptMs,
    critical: {
      memoryPercent: config.sampling.criticalMemoryPercent,
      cpuPercent: config.sampling.criticalCpuPercent,
    },
    requestFlush: () => requestFlush(deps.queues, 'critical'),
    seriesLimited: (metric, n) => telemetry.seriesLimited(metric, n),
  });
}

function startUpkeep(deps: WorkerRoleDeps): UpkeepWorkers {
  const { config } = deps;
  return startUpkeepWorkers({
    ...workerBase(deps, 'upkeep'),
    retention: { ...config.retention, regressionMs: config.regression.retentionMs },
    series: deps.series,
  });
}

function startWarm(deps: WorkerRoleDeps): PulseWorker<'warm'> {
  return startWarmWorker({
    ...workerBase(deps, 'warm'),
    cache: deps.cache,
    limits: deps.limits,
    ttlMs: deps.config.cache.ttlMs,
  });
}

function startRegression(deps: WorkerRoleDeps): PulseWorker<'regression'> {
  const { config } = deps;
  return startRegressionWorker({
    ...workerBase(deps, 'regression'),
    // Segments shorter than an hour would let noise pass for a change point.
    config: { ...config.regression, minSegmentMinutes: 60, seriesLimits: config.series },
    cache: { cache: deps.cache, ttlMs: config.cache.ttlMs },
  });
}
