// Queue names, the job-name → payload map shared by producers and workers, and the job
// options each queue's jobs get. Adding a job type is one entry here and one handler file.
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AggregatePayload } from '../jobs/aggregate.js';
import type { BackfillPayload } from '../jobs/backfill.js';
import type { FlushPayload } from '../jobs/flush.js';
import type { MaintenancePayload } from '../jobs/maintenance.js';
import type { RegressionPayload } from '../jobs/regression.js';
import type { WarmPayload } from '../jobs/warm.js';
import type { SamplePayload } from '../jobs/sample.js';

export const QUEUE = {
  flush: 'flush',
  // Its own queue, so a busy flush never delays a sample.
  sample: 'sample',
  aggregate: 'aggregate',
  maintenance: 'maintenance',
  // Filled by `npm run backfill` as one flow: a parent job and a child per hour.
  backfill: 'backfill',
  warm: 'warm',
  regression: 'regression',
} as const;

export interface JobPayloads {
  flush: FlushPayload;
  sample: SamplePayload;
  aggregate: AggregatePayload;
  maintenance: MaintenancePayload;
  backfill: BackfillPayload;
  warm: WarmPayload;
  regression: RegressionPayload;
}

export type QueueName = keyof JobPayloads;

/** Transient failures (PostgreSQL away) retry with jittered exponential backoff. */
export function flushJobOptions(attempts: number): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
    removeOnComplete: { count: 200, age: 3_600 },
    removeOnFail: { count: 1_000, age: 7 * 86_400 },
  };
}

/** A sample is taken once: a retry seconds later would record the wrong moment. */
export const SAMPLE_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { count: 200, age: 3_600 },
  removeOnFail: { count: 1_000, age: 86_400 },
};

/** Periodic upkeep: a failed run is retried a few times, then the next tick tries again. */
export const UPKEEP_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
  removeOnComplete: { count: 100, age: 86_400 },
  removeOnFail: { count: 500, age: 7 * 86_400 },
};

export interface Queues {
  flush: Queue<FlushPayload, unknown, string>;
  sample: Queue<SamplePayload, unknown, string>;
  aggregate: Queue<AggregatePayload, unknown, string>;
  maintenance: Queue<MaintenancePayload, unknown, string>;
  warm: Queue<WarmPayload, unknown, string>;
  regression: Queue<RegressionPayload, unknown, string>;
  all(): Queue[];
  close(): Promise<void>;
}

export function createQueues(connection: Redis, prefix: string, attempts: number): Queues {
  const flush = new Queue<FlushPayload, unknown, string>(QUEUE.flush, {
    connection,
    prefix,
    defaultJobOptions: flushJobOptions(attempts),
  });
  const sample = new Queue<SamplePayload, unknown, string>(QUEUE.sample, {
    connection,
    prefix,
    defaultJobOptions: SAMPLE_JOB_OPTIONS,
  });
  const aggregate = new Queue<AggregatePayload, unknown, string>(QUEUE.aggregate, {
    connection,
    prefix,
    defaultJobOptions: UPKEEP_JOB_OPTIONS,
  });
  const maintenance = new Queue<MaintenancePayload, unknown, string>(QUEUE.maintenance, {
    connection,
    prefix,
    defaultJobOptions: UPKEEP_JOB_OPTIONS,
  });
  const warm = new Queue<WarmPayload, unknown, string>(QUEUE.warm, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: 1,
      removeOnComplete: { count: 100, age: 3_600 },
      removeOnFail: { count: 500, age: 86_400 },
    },
  });
  const regression = new Queue<RegressionPayload, unknown, string>(QUEUE.regression, {
    connection,
    prefix,
    defaultJobOptions: UPKEEP_JOB_OPTIONS,
  });
  const all = [flush, sample, aggregate, maintenance, warm, regression] as Queue[];
  return {
    flush,
    sample,
    aggregate,
    maintenance,
    warm,
    regression,
    all: () => all,
    async close() {
      await Promise.all(all.map((q) => q.close()));
    },
  };
}

// One id for every threshold-triggered flush: while one is waiting, further asks are no-ops.
const FLUSH_NOW_ID = 'flush-threshold';

/**
 * Asks for the cache to be warmed after new data; deduplicated so it runs at most once per
 * `intervalMs` however many flushes and aggregates ask.
 */
export async function requestWarm(
  queues: Queues,
  reason: WarmPayload['reason'],
  intervalMs: number,
): Promise<void> {
  await queues.warm.add('warm', { reason }, { deduplication: { id: 'warm', ttl: intervalMs } });
}

/** Asks for a flush now (buffer passed FLUSH_BATCH); cheap to call on every request. */
export async function requestFlush(queues: Queues, reason: FlushPayload['reason']): Promise<void> {
  await queues.flush.add('flush', { reason }, { deduplication: { id: FLUSH_NOW_ID } });
}
