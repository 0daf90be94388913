// Periodic stages as BullMQ job schedulers: however many worker processes run, on however
// many hosts, each tick fires one job. Upserting is idempotent, so every process may call it.
import type { SamplePayload } from '../jobs/sample.js';
import { flushJobOptions, SAMPLE_JOB_OPTIONS, UPKEEP_JOB_OPTIONS, type Queues } from './queues.js';
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
  aggregateIntervalMs: number;
  maintenanceIntervalMs: number;
  regressionIntervalMs: number;
  /** Fleet-level built-in samplers to schedule (the process sampler runs in each process). */
  samplers: readonly string[];
  flushIntervalMs: number;
  flushAttempts: number;
  sampleIntervalMs: number;
  scrapeTargets: string[];
}

/** Upserts every scheduler and removes sample schedulers no longer configured; returns those removed. */
export async function ensureSchedulers(queues: Queues, opts: SchedulerOptions): Promise<string[]> {
  await queues.flush.upsertJobScheduler(
    SCHEDULER.flush,
    { every: opts.flushIntervalMs },
    { name: 'flush', data: { reason: 'schedule' }, opts: flushJobOptions(opts.flushAttempts) },
  );
  await queues.aggregate.upsertJobScheduler(
    SCHEDULER.aggregate,
    { every: opts.aggregateIntervalMs },
    { name: 'aggregate', data: { reason: 'schedule' }, opts: UPKEEP_JOB_OPTIONS },
  );
  await queues.maintenance.upsertJobScheduler(
    SCHEDULER.maintenance,
    { every: opts.maintenanceIntervalMs },
    { name: 'maintenance', data: { reason: 'schedule' }, opts: UPKEEP_JOB_OPTIONS },
  );
  await queues.regression.upsertJobScheduler(
    SCHEDULER.regression,
    { every: opts.regressionIntervalMs },
    { name: 'regression', data: { reason: 'schedule' }, opts: UPKEEP_JOB_OPTIONS },
  );
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
      { name: payload.sampler, data: payload, opts: SAMPLE_JOB_OPTIONS },
    );
  }
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
