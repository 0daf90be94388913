// Wires the periodic upkeep handlers (aggregate, maintenance) and backfill into BullMQ Workers.
// Aggregate and maintenance run one job at a time per process; their schedulers fire each
// tick once across the fleet. Every handler gets the job's abort signal (abortable.ts).
import { MetricsTime, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { aggregate, type AggregatePayload } from '../jobs/aggregate.js';
import {
  backfillHour,
  backfillRange,
  type BackfillHourResult,
  type BackfillPayload,
} from '../jobs/backfill.js';
import { maintenance, type MaintenanceDeps, type MaintenancePayload } from '../jobs/maintenance.js';
import {
  regression,
  type RegressionConfig,
  type RegressionDeps,
  type RegressionPayload,
} from '../jobs/regression.js';
import { warm, type WarmDeps, type WarmPayload } from '../jobs/warm.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { abortableWorker, type AbortableOptions } from './abortable.js';
import { QUEUE } from './queues.js';

interface WorkerDeps {
  connection: Redis;
  prefix: string;
  db: Db;
  log: Logger;
}

function options(deps: WorkerDeps, concurrency: number): AbortableOptions {
  return {
    log: deps.log,
    connection: deps.connection,
    prefix: deps.prefix,
    concurrency,
    metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
  };
}

function logFailures(w: Worker, log: Logger): Worker {
  w.on('failed', (job, err) =>
    log.warn({ queue: w.name, job: job?.id, err: err.message }, 'job failed'),
  );
  w.on('error', (err) => log.error({ queue: w.name, err }, 'worker error'));
  return w;
}

/** Processes backfill flows: each hour child, then the parent that sums them and rebuilds rollup_1h. */
export function startBackfillWorker(deps: WorkerDeps): Worker {
  const worker = abortableWorker<BackfillPayload, unknown>(
    QUEUE.backfill,
    async (job, signal) => {
      const jobDeps = { db: deps.db, log: deps.log.child({ job: job.id }), signal };
      if (job.data.kind === 'hour') return backfillHour(jobDeps, job.data);
      const children = Object.values(await job.getChildrenValues<BackfillHourResult>());
      return backfillRange(jobDeps, job.data, children);
    },
    options(deps, 2),
  );
  return logFailures(worker, deps.log);
}

/** Runs regression detection; one run at a time per process (runs serialise in SQL too). */
export function startRegressionWorker(
  deps: WorkerDeps & { config: RegressionConfig; cache: RegressionDeps['cache'] },
): Worker {
  const worker = abortableWorker<RegressionPayload, unknown>(
    QUEUE.regression,
    (job, signal) =>
      regression(
        {
          db: deps.db,
          log: deps.log.child({ job: job.id }),
          config: deps.config,
          cache: deps.cache,
          signal,
        },
        job.data,
      ),
    options(deps, 1),
  );
  return logFailures(worker, deps.log);
}

/** Warms the dashboard cache; one at a time per process (the job is deduplicated anyway). */
export function startWarmWorker(deps: WorkerDeps & Omit<WarmDeps, 'log' | 'db'>): Worker {
  const worker = abortableWorker<WarmPayload, unknown>(
    QUEUE.warm,
    (job, signal) =>
      warm(
        {
          db: deps.db,
          cache: deps.cache,
          log: deps.log.child({ job: job.id }),
          limits: deps.limits,
          ttlMs: deps.ttlMs,
          signal,
        },
        job.data,
      ),
    options(deps, 1),
  );
  return logFailures(worker, deps.log);
}

export function startUpkeepWorkers(
  deps: WorkerDeps & Pick<MaintenanceDeps, 'retention' | 'series'>,
): Worker[] {
  return [
    logFailures(
      abortableWorker<AggregatePayload, unknown>(
        QUEUE.aggregate,
        (job, signal) =>
          aggregate({ db: deps.db, log: deps.log.child({ job: job.id }), signal }, job.data),
        options(deps, 1),
      ),
      deps.log,
    ),
    logFailures(
      abortableWorker<MaintenancePayload, unknown>(
        QUEUE.maintenance,
        (job, signal) =>
          maintenance(
            {
              db: deps.db,
              log: deps.log.child({ job: job.id }),
              retention: deps.retention,
              signal,
              ...(deps.series ? { series: deps.series } : {}),
            },
            job.data,
          ),
        options(deps, 1),
      ),
      deps.log,
    ),
    startBackfillWorker(deps),
  ];
}
