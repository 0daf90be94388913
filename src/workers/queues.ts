// Queue names, the job-name → payload map shared by producers and workers, and the job
// options each queue's jobs get. Adding a job type is one entry here and one handler file.
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AggregatePayload, AggregateResult } from '../jobs/aggregate.js';
import type { BackfillHourResult, BackfillPayload, BackfillRangeResult } from '../jobs/backfill.js';
import type { FlushPayload, FlushResult } from '../jobs/flush.js';
import type { MaintenancePayload, MaintenanceResult } from '../jobs/maintenance.js';
import type { RegressionPayload, RegressionRun } from '../jobs/regression.js';
import type { WarmPayload, WarmResult } from '../jobs/warm.js';
import type { SamplePayload, SampleResult } from '../jobs/sample.js';

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
function flushJobOptions(attempts: number): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
    removeOnComplete: { count: 200, age: 3_600 },
    removeOnFail: { count: 1_000, age: 7 * 86_400 },
  };
}

/** A sample is taken once: a retry seconds later would record the wrong moment. */
const SAMPLE_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { count: 200, age: 3_600 },
  removeOnFail: { count: 1_000, age: 86_400 },
};

/** A warm pass is not retried: the next flush or aggregate asks for another. */
const WARM_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { count: 100, age: 3_600 },
  removeOnFail: { count: 500, age: 86_400 },
};

/** Periodic upkeep: a failed run is retried a few times, then the next tick tries again. */
const UPKEEP_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
  removeOnComplete: { count: 100, age: 86_400 },
  removeOnFail: { count: 500, age: 7 * 86_400 },
};

/** What each queue's handler resolves with: what `completed` listeners receive. */
export interface JobResults {
  flush: FlushResult;
  sample: SampleResult;
  aggregate: AggregateResult;
  maintenance: MaintenanceResult;
  backfill: BackfillHourResult | BackfillRangeResult;
  warm: WarmResult;
  regression: RegressionRun;
}

/**
 * The queues pulse adds jobs to, with their default job options. Backfill is not one: only
 * `npm run backfill` fills it, as a flow whose jobs carry their own options, and leaving it out
 * keeps it off the queues sampler and the dashboard's queue list.
 */
function defaultJobOptions(flushAttempts: number) {
  return {
    flush: flushJobOptions(flushAttempts),
    sample: SAMPLE_JOB_OPTIONS,
    aggregate: UPKEEP_JOB_OPTIONS,
    maintenance: UPKEEP_JOB_OPTIONS,
    warm: WARM_JOB_OPTIONS,
    regression: UPKEEP_JOB_OPTIONS,
  } satisfies Partial<Record<QueueName, JobsOptions>>;
}

export type ProducedQueue = keyof ReturnType<typeof defaultJobOptions>;

export type TypedQueue<K extends QueueName> = Queue<JobPayloads[K], unknown, string>;

export type Queues = { [K in ProducedQueue]: TypedQueue<K> } & {
  all(): Queue[];
  close(): Promise<void>;
};

export function createQueues(connection: Redis, prefix: string, attempts: number): Queues {
  const options = defaultJobOptions(attempts);
  const open = <K extends ProducedQueue>(name: K): TypedQueue<K> =>
    new Queue<JobPayloads[K], unknown, string>(QUEUE[name], {
      connection,
      prefix,
      defaultJobOptions: options[name],
    });
  const names = Object.keys(options) as ProducedQueue[];
  const queues = Object.fromEntries(names.map((name) => [name, open(name)])) as {
    [K in ProducedQueue]: TypedQueue<K>;
  };
  const all = Object.values(queues) as Queue[];
  return {
    ...queues,
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
