// The one way pulse builds a BullMQ Worker, typed by the JobPayloads map: the handler gets the
// payload, the job and an abort signal (abortable.ts); failures and worker errors are logged;
// with telemetry, job durations and failures are recorded.
import { MetricsTime, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../infra/logger.js';
import { observeWorker, type Telemetry } from '../infra/telemetry.js';
import { abortableWorker } from './abortable.js';
import { QUEUE, type JobPayloads, type JobResults, type QueueName } from './queues.js';

export type PulseWorker<K extends QueueName> = Worker<JobPayloads[K], JobResults[K], string>;

export type Handler<K extends QueueName> = (
  payload: JobPayloads[K],
  job: Job<JobPayloads[K], JobResults[K]>,
  signal: AbortSignal,
) => Promise<JobResults[K]>;

export interface StartWorkerOptions<K extends QueueName> {
  connection: Redis;
  prefix: string;
  log: Logger;
  concurrency: number;
  telemetry?: Telemetry | undefined;
  /** What an aborted job becomes (abortable.ts); `wait` unless set. */
  onAbort?: 'wait' | 'fail';
  /**
   * A signal of the worker's own, handed to every job in place of a per-job one: the worker is
   * then a plain BullMQ Worker, whose jobs shutdown does not abort one by one.
   */
  signal?: AbortSignal;
  /** The failure's log line: its message (`job failed` unless set) and fields from the payload. */
  failed?: { message: string; fields?(payload: JobPayloads[K]): Record<string, unknown> };
}

export function startWorker<K extends QueueName>(
  name: K,
  handle: Handler<K>,
  opts: StartWorkerOptions<K>,
): PulseWorker<K> {
  const { connection, prefix, concurrency, log, signal } = opts;
  // Per-minute completed/failed counts, which the queues sampler turns into rates.
  const bullOpts = {
    connection,
    prefix,
    concurrency,
    metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
  };
  const worker: PulseWorker<K> = signal
    ? new Worker<JobPayloads[K], JobResults[K], string>(
        QUEUE[name],
        (job) => handle(job.data, job, signal),
        bullOpts,
      )
    : abortableWorker<JobPayloads[K], JobResults[K]>(
        QUEUE[name],
        (job, jobSignal) => handle(job.data, job, jobSignal),
        { ...bullOpts, onAbort: opts.onAbort ?? 'wait', log },
      );
  const failed = opts.failed;
  worker.on('failed', (job, err) =>
    log.warn(
      {
        queue: name,
        job: job?.id,
        attempt: job?.attemptsMade,
        ...(job && failed?.fields ? failed.fields(job.data) : {}),
        err: err.message,
      },
      failed?.message ?? 'job failed',
    ),
  );
  worker.on('error', (err) => log.error({ queue: name, err }, 'worker error'));
  if (opts.telemetry) observeWorker(opts.telemetry, name, worker);
  return worker;
}
