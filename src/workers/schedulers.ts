// Periodic stages as BullMQ job schedulers: however many worker processes run, on however
// many hosts, each tick fires one job. Upserting is idempotent, so every process may call it.
import type { SamplePayload } from '../jobs/sample.js';
import type { Queue } from 'bullmq';
import type { JobPayloads, ProducedQueue, Queues } from './queues.js';
import { targetKey } from '../samplers/prometheus.js';

const FLEET_SAMPLERS = ['host', 'postgres', 'redis', 'queues'] as const;

export const SCHEDULER = {
  flush: 'flush-every',
  aggregate: 'aggregate-every',
  maintenance: 'maintenance-every',
  regression: 'regression-every',
  sample: (p: SamplePayload) =>
    p.sampler === 'scrape' ? `sample:scrape:${p.target}` : `sample:${p.sampler}`,
} as const;

export interface SchedulerOptions {
  flushIntervalMs: number;
  aggregateIntervalMs: number;
  maintenanceIntervalMs: number;
  regressionIntervalMs: number;
  /** Fleet-level built-in samplers to schedule (the process sampler runs in each process). */
  samplers: readonly string[];
  sampleIntervalMs: number;
  scrapeTargets: string[];
}

/** The stages that run on a fixed tick, and which option sets it. */
const PERIODIC = {
  flush: 'flushIntervalMs',
  aggregate: 'aggregateIntervalMs',
  maintenance: 'maintenanceIntervalMs',
  regression: 'regressionIntervalMs',
} as const satisfies Partial<Record<ProducedQueue, keyof SchedulerOptions>>;
type PeriodicQueue = keyof typeof PERIODIC;
const SCHEDULED: { [K in PeriodicQueue]: JobPayloads[K] } = {
  flush: { reason: 'schedule' },
  aggregate: { reason: 'schedule' },
  maintenance: { reason: 'schedule' },
  regression: { reason: 'schedule' },
};

/** BullMQ's queue types cannot follow a generic name; SCHEDULED checks each payload instead. */
async function upsertPeriodic(queues: Queues, name: PeriodicQueue, every: number): Promise<void> {
  const queue: Queue = queues[name];
  await queue.upsertJobScheduler(SCHEDULER[name], { every }, { name, data: SCHEDULED[name] });
}

/**
 * Upserts every scheduler and removes sample schedulers no longer configured; returns those
 * removed. Each job a scheduler makes gets its queue's default job options (createQueues).
 */
export async function ensureSchedulers(queues: Queues, opts: SchedulerOptions): Promise<string[]> {
  for (const name of Object.keys(PERIODIC) as PeriodicQueue[])
    await upsertPeriodic(queues, name, opts[PERIODIC[name]]);
  const wanted: SamplePayload[] = [
    ...FLEET_SAMPLERS.filter((s) => opts.samplers.includes(s)).map((sampler) => ({ sampler })),
    // Job data and ids name a target by its key: no credentials or query strings in Redis.
    ...opts.scrapeTargets.map((url) => ({ sampler: 'scrape' as const, target: targetKey(url) })),
  ];
  const ids = new Set<string>();
  for (const payload of wanted) {
    const id = SCHEDULER.sample(payload);
    ids.add(id);
    await queues.sample.upsertJobScheduler(
      id,
      { every: opts.sampleIntervalMs },
      { name: payload.sampler, data: payload },
    );
  }
  return removeUnconfigured(queues, ids);
}

/** Removes the sample schedulers whose sampler or target is not among `ids` any more. */
async function removeUnconfigured(queues: Queues, ids: Set<string>): Promise<string[]> {
  const removed: string[] = [];
  for (const scheduler of await queues.sample.getJobSchedulers(0, -1)) {
    const id = scheduler.key;
    if (id.startsWith('sample:') && !ids.has(id)) {
      await queues.sample.removeJobScheduler(id);
      removed.push(id);
    }
  }
  return removed;
}
