// Wires the periodic upkeep handlers (aggregate, maintenance) into BullMQ Workers. Each runs
// one job at a time per process; the schedulers fire each tick once across the fleet.
import { MetricsTime, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { aggregate, type AggregatePayload } from '../jobs/aggregate.js';
import { maintenance, type MaintenanceDeps, type MaintenancePayload } from '../jobs/maintenance.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { QUEUE } from './queues.js';

export function startUpkeepWorkers(deps: {
  connection: Redis;
  prefix: string;
  db: Db;
  log: Logger;
  retention: MaintenanceDeps['retention'];
}): Worker[] {
  const common = {
    connection: deps.connection,
    prefix: deps.prefix,
    concurrency: 1,
    metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
  };
  const workers: Worker[] = [
    new Worker<AggregatePayload>(
      QUEUE.aggregate,
      (job) => aggregate({ db: deps.db, log: deps.log.child({ job: job.id }) }, job.data),
      common,
    ),
    new Worker<MaintenancePayload>(
      QUEUE.maintenance,
      (job) =>
        maintenance(
          { db: deps.db, log: deps.log.child({ job: job.id }), retention: deps.retention },
          job.data,
        ),
      common,
    ),
  ];
  for (const w of workers) {
    w.on('failed', (job, err) =>
      deps.log.warn({ queue: w.name, job: job?.id, err: err.message }, 'upkeep job failed'),
    );
    w.on('error', (err) => deps.log.error({ queue: w.name, err }, 'upkeep worker error'));
  }
  return workers;
}
