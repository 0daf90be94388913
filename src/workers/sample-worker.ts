// Wires the sample handler into a BullMQ Worker on its own queue. Several samples run at once,
// so one slow scrape target never holds up the host or database samplers.
import type { Redis } from 'ioredis';
import type { Telemetry } from '../infra/telemetry.js';
import { sample, type SampleDeps } from '../jobs/sample.js';
import { startWorker, type PulseWorker } from './start-worker.js';

export function startSampleWorker(
  deps: Omit<SampleDeps, 'log'> & {
    log: SampleDeps['log'];
    connection: Redis;
    prefix: string;
    concurrency?: number;
    telemetry?: Telemetry;
  },
): PulseWorker<'sample'> {
  const { connection, prefix, concurrency, telemetry, ...sampleDeps } = deps;
  return startWorker(
    'sample',
    (payload, job, signal) =>
      sample(
        { ...sampleDeps, log: deps.log.child({ job: job.id, sampler: payload.sampler }), signal },
        payload,
      ),
    {
      connection,
      prefix,
      concurrency: concurrency ?? 4,
      log: deps.log,
      telemetry,
      // A missed tick is not retried (a sample taken later would carry the wrong time).
      onAbort: 'fail',
      failed: { message: 'sample failed', fields: (p) => ({ sampler: p.sampler }) },
    },
  );
}
