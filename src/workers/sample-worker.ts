// Wires the sample handler into a BullMQ Worker on its own queue. Several samples run at once,
// so one slow scrape target never holds up the host or database samplers.
import { MetricsTime, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { sample, type SampleDeps, type SamplePayload, type SampleResult } from '../jobs/sample.js';
import { abortableWorker } from './abortable.js';
import { QUEUE } from './queues.js';

export function startSampleWorker(
  deps: Omit<SampleDeps, 'log'> & {
    log: SampleDeps['log'];
    connection: Redis;
    prefix: string;
    concurrency?: number;
  },
): Worker<SamplePayload, SampleResult, string> {
  const worker = abortableWorker<SamplePayload, SampleResult>(
    QUEUE.sample,
    (job, signal) =>
      sample(
        { ...deps, log: deps.log.child({ job: job.id, sampler: job.data.sampler }), signal },
        job.data,
      ),
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.concurrency ?? 4,
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
      // A missed tick is not retried (a sample taken later would carry the wrong time).
      onAbort: 'fail',
      log: deps.log,
    },
  );
  worker.on('failed', (job, err) =>
    deps.log.warn({ job: job?.id, sampler: job?.data.sampler, err: err.message }, 'sample failed'),
  );
  worker.on('error', (err) => deps.log.error({ err }, 'sample worker error'));
  return worker;
}
