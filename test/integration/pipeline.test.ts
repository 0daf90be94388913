// The pipeline table (src/workers/pipeline.ts) against real Redis: which completions ask for a
// warm pass, and that however many ask, one deduplicated warm job is queued. The stages' handlers
// are stand-ins returning fixed results; the workers are built as pulse builds them
// (start-worker.ts), which also hands each job an abort signal shutdown can abort.
import { setTimeout as sleep } from 'node:timers/promises';
import { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { AbortError } from '../../src/infra/abort.js';
import { createTelemetry } from '../../src/infra/telemetry.js';
import type { FlushResult } from '../../src/jobs/flush.js';
import type { RegressionRun } from '../../src/jobs/regression.js';
import { connectPipeline, PIPELINE } from '../../src/workers/pipeline.js';
import { createQueues, type Queues } from '../../src/workers/queues.js';
import { startWorker } from '../../src/workers/start-worker.js';
import { createTestContext, waitFor, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
let connection: Redis;
let queues: Queues;
const workers: { close(force?: boolean): Promise<void> }[] = [];

beforeAll(async () => {
  ctx = await createTestContext('pipeline');
  connection = new Redis(ctx.redisUrl, { maxRetriesPerRequest: null });
  queues = createQueues(connection, ctx.prefix, 3);
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close(true)));
  await Promise.all(queues.all().map((q) => q.obliterate({ force: true })));
});
afterAll(async () => {
  await queues?.close();
  await connection?.quit();
  await ctx?.cleanup();
});

const opts = () => ({ connection, prefix: ctx.prefix, log: ctx.log, concurrency: 1 });

/** Flush, aggregate and regression workers whose results are `inserted` and `rows`. */
function startStages(inserted: number, rows: number) {
  const flush = startWorker(
    'flush',
    () => Promise.resolve({ inserted, duplicates: 0, ms: 1 } as FlushResult),
    opts(),
  );
  const aggregate = startWorker(
    'aggregate',
    () => Promise.resolve({ hours: 1, rows, compacted: 0 }),
    opts(),
  );
  const regression = startWorker(
    'regression',
    () => Promise.resolve({ counts: {} } as RegressionRun),
    opts(),
  );
  workers.push(flush, aggregate, regression);
  connectPipeline(
    { flush, aggregate, regression },
    { queues, warmIntervalMs: 60_000, log: ctx.log },
  );
}

const warmJobs = () => queues.warm.getJobs(['waiting', 'delayed', 'active', 'completed']);

it('names flush, aggregate and regression as the completions that ask for a warm pass', () => {
  expect(PIPELINE.map((c) => `${c.after} → ${c.then}`)).toEqual([
    'flush → warm',
    'aggregate → warm',
    'regression → warm',
  ]);
});

it('queues no warm job after a flush that stored nothing or an aggregate that wrote no rows', async () => {
  startStages(0, 0);
  await queues.flush.add('flush', { reason: 'manual' });
  await queues.aggregate.add('aggregate', { reason: 'manual' });
  await waitFor(
    async () =>
      (await queues.flush.getCompletedCount()) === 1 &&
      (await queues.aggregate.getCompletedCount()) === 1,
    10_000,
    'the flush and the aggregate to complete',
  );
  // The listeners add their job asynchronously after the completion.
  await sleep(500);
  expect(await warmJobs()).toHaveLength(0);
});

it('queues exactly one deduplicated warm job for many flushes and an aggregate that wrote rows', async () => {
  startStages(5, 3);
  for (let i = 0; i < 3; i++) await queues.flush.add('flush', { reason: 'schedule' });
  await waitFor(
    async () => (await queues.flush.getCompletedCount()) === 3,
    10_000,
    'three flushes',
  );
  const [first] = await waitFor(
    async () => {
      const jobs = await warmJobs();
      return jobs.length > 0 && jobs;
    },
    10_000,
    'a warm job',
  );
  expect(first?.data).toEqual({ reason: 'flush' });
  await queues.aggregate.add('aggregate', { reason: 'manual' });
  await queues.regression.add('regression', { reason: 'manual' });
  await waitFor(
    async () =>
      (await queues.aggregate.getCompletedCount()) === 1 &&
      (await queues.regression.getCompletedCount()) === 1,
    10_000,
    'the aggregate and the regression run',
  );
  await sleep(500);
  expect(await warmJobs()).toHaveLength(1);
});

it('builds a worker whose handler gets the payload and an abort signal that shutdown aborts', async () => {
  const telemetry = createTelemetry({
    bufferDepth: () => Promise.resolve(0),
    deadLetters: () => Promise.resolve(0),
  });
  const seen: unknown[] = [];
  const worker = startWorker(
    'maintenance',
    (payload, _job, signal) =>
      new Promise((_resolve, reject) => {
        seen.push(payload);
        signal.addEventListener('abort', () => reject(new AbortError('job aborted')));
      }),
    { ...opts(), telemetry },
  );
  workers.push(worker);
  const job = await queues.maintenance.add('maintenance', { reason: 'manual' }, { attempts: 1 });
  await waitFor(() => Promise.resolve(seen.length === 1), 10_000, 'the job to start');
  expect(seen).toEqual([{ reason: 'manual' }]);
  worker.cancelAllJobs('shutdown');
  await worker.close();
  const back = await Job.fromId(queues.maintenance, job.id as string);
  expect(await back?.getState()).toBe('waiting');
  expect(back?.attemptsMade).toBe(0);
  // Moved back to wait is not a failure.
  expect((await telemetry.jobFailures.get()).values).toEqual([]);
});
