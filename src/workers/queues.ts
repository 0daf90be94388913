// Queue names, the job-name → payload map shared by producers and workers, and the job
// options each queue's jobs get. Adding a job type is one entry here and one handler file.
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FlushPayload } from '../jobs/flush.js';

export const QUEUE = {
  flush: 'flush',
} as const;

export interface JobPayloads {
  flush: FlushPayload;
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

export interface Queues {
  flush: Queue<FlushPayload, unknown, string>;
  close(): Promise<void>;
}

export function createQueues(connection: Redis, prefix: string, attempts: number): Queues {
  const flush = new Queue<FlushPayload, unknown, string>(QUEUE.flush, {
    connection,
    prefix,
    defaultJobOptions: flushJobOptions(attempts),
  });
  return {
    flush,
    async close() {
      await flush.close();
    },
  };
}

// One id for every threshold-triggered flush: while one is waiting, further asks are no-ops.
const FLUSH_NOW_ID = 'flush-threshold';

/** Asks for a flush now (buffer passed FLUSH_BATCH); cheap to call on every request. */
export async function requestFlush(queues: Queues, reason: FlushPayload['reason']): Promise<void> {
  await queues.flush.add('flush', { reason }, { deduplication: { id: FLUSH_NOW_ID } });
}
