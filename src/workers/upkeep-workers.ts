// Wires the periodic upkeep handlers (aggregate, maintenance), backfill, warm and regression
// into BullMQ Workers. Each runs one job at a time per process, backfill two; their schedulers
// fire each tick once across the fleet. Every handler gets the job's abort signal (abortable.ts).
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { aggregate } from '../jobs/aggregate.js';
import { backfillHour, backfillRange, type BackfillHourResult } from '../jobs/backfill.js';
import { maintenance, type MaintenanceDeps } from '../jobs/maintenance.js';
import { regression, type RegressionConfig, type RegressionDeps } from '../jobs/regression.js';
import { warm, type WarmDeps } from '../jobs/warm.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import type { Telemetry } from '../infra/telemetry.js';
import { startWorker, type PulseWorker } from './start-worker.js';

interface WorkerDeps {
  connection: Redis;
  prefix: string;
  db: Db;
  log: Logger;
  telemetry?: Telemetry | undefined;
}

function options(deps: WorkerDeps, concurrency: number) {
  const { connection, prefix, log, telemetry } = deps;
  return { connection, prefix, log, telemetry, concurrency };
}

/** What every upkeep handler gets: the database, a logger naming the job, its abort signal. */
function jobDeps(deps: WorkerDeps, job: Job, signal: AbortSignal) {
  return { db: deps.db, log: deps.log.child({ job: job.id }), signal };
}

/** Processes backfill flows: each hour child, then the parent that sums them and rebuilds rollup_1h. */
export function startBackfillWorker(deps: WorkerDeps): PulseWorker<'backfill'> {
  return startWorker(
    'backfill',
    async (payload, job, signal) => {
      if (payload.kind === 'hour') return backfillHour(jobDeps(deps, job, signal), payload);
      const children = Object.values(await job.getChildrenValues<BackfillHourResult>());
      return backfillRange(jobDeps(deps, job, signal), payload, children);
    },
    options(deps, 2),
  );
}

/** Runs regression detection; one run at a time per process (runs serialise in SQL too). */
export function startRegressionWorker(
  deps: WorkerDeps & { config: RegressionConfig; cache: RegressionDeps['cache'] },
): PulseWorker<'regression'> {
  return startWorker(
    'regression',
    (payload, job, signal) =>
      regression(
        { ...jobDeps(deps, job, signal), config: deps.config, cache: deps.cache },
        payload,
      ),
    options(deps, 1),
  );
}

/** Warms the dashboard cache; one at a time per process (the job is deduplicated anyway). */
export function startWarmWorker(
  deps: WorkerDeps & Omit<WarmDeps, 'log' | 'db'>,
): PulseWorker<'warm'> {
  return startWorker(
    'warm',
    (payload, job, signal) =>
      warm(
        {
          ...jobDeps(deps, job, signal),
          cache: deps.cache,
          limits: deps.limits,
          ttlMs: deps.ttlMs,
        },
        payload,
      ),
    options(deps, 1),
  );
}

export interface UpkeepWorkers {
  aggregate: PulseWorker<'aggregate'>;
  maintenance: PulseWorker<'maintenance'>;
  backfill: PulseWorker<'backfill'>;
}

export function startUpkeepWorkers(
  deps: WorkerDeps & Pick<MaintenanceDeps, 'retention' | 'series'>,
): UpkeepWorkers {
  return {
    aggregate: startWorker(
      'aggregate',
      (payload, job, signal) => aggregate(jobDeps(deps, job, signal), payload),
      options(deps, 1),
    ),
    maintenance: startWorker(
      'maintenance',
      (payload, job, signal) =>
        maintenance(
          {
            ...jobDeps(deps, job, signal),
            retention: deps.retention,
            ...(deps.series ? { series: deps.series } : {}),
          },
          payload,
        ),
      options(deps, 1),
    ),
    backfill: startBackfillWorker(deps),
  };
}
