// Queue sampler: the pipeline watches itself with the same tools. For every pulse queue:
// job counts by state, the age of the oldest waiting job, completed and failed per minute.
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { rates } from './rates.js';
import type { Sample } from './types.js';

export async function sampleQueues(deps: {
  queues: Queue[];
  redis: Redis;
  rateKeyPrefix: string;
  now: number;
}): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const queue of deps.queues) {
    const tags = { queue: queue.name };
    const [counts, oldest, completed, failed] = await Promise.all([
      queue.getJobCounts('waiting', 'active', 'delayed', 'failed'),
      queue.getJobs(['wait'], 0, 0, true),
      queue.getMetrics('completed', 0, 0),
      queue.getMetrics('failed', 0, 0),
    ]);
    samples.push(
      { name: 'queue_waiting_jobs', value: counts.waiting ?? 0, tags },
      { name: 'queue_active_jobs', value: counts.active ?? 0, tags },
      { name: 'queue_delayed_jobs', value: counts.delayed ?? 0, tags },
      { name: 'queue_failed_jobs', value: counts.failed ?? 0, tags },
      {
        name: 'queue_oldest_waiting_age_seconds',
        // A delayed job (a scheduler's next tick, a retry) waits only from when it became due.
        value: oldest[0]
          ? Math.max(0, deps.now - (oldest[0].timestamp + (oldest[0].delay ?? 0))) / 1_000
          : 0,
        tags,
      },
    );
    // BullMQ's metrics count every completion and failure (workers record them); the rate of
    // those totals between two ticks is the per-minute figure.
    const r = await rates(deps.redis, `${deps.rateKeyPrefix}:${queue.name}`, deps.now, {
      completed: completed.meta.count,
      failed: failed.meta.count,
    });
    if (r.completed !== undefined)
      samples.push({ name: 'queue_completed_per_minute', value: r.completed * 60, tags });
    if (r.failed !== undefined)
      samples.push({ name: 'queue_failed_per_minute', value: r.failed * 60, tags });
  }
  return samples;
}
