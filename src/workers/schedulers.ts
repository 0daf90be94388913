// Periodic stages as BullMQ job schedulers: however many worker processes run, on however
// many hosts, each tick fires one job. Upserting is idempotent, so every process may call it.
import { flushJobOptions, type Queues } from './queues.js';

export const SCHEDULER = {
  flush: 'flush-every',
} as const;

export async function ensureSchedulers(
  queues: Queues,
  opts: { flushIntervalMs: number; flushAttempts: number },
): Promise<void> {
  await queues.flush.upsertJobScheduler(
    SCHEDULER.flush,
    { every: opts.flushIntervalMs },
    { name: 'flush', data: { reason: 'schedule' }, opts: flushJobOptions(opts.flushAttempts) },
  );
}
