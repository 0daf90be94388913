// BullMQ Workers whose handlers get the job's abort signal. Shutdown aborts every running job
// (worker.cancelAllJobs), and an aborted job goes back to wait instead of completing with part
// of its work or failing: it runs again from the start, on the next start or on another worker,
// without using up an attempt. A forced exit moves the jobs still running back the same way.
import { WaitingError, Worker, type Job, type WorkerOptions } from 'bullmq';
import { AbortError, isAbortError } from '../infra/abort.js';
import type { Logger } from '../infra/logger.js';

export interface AbortableOptions extends WorkerOptions {
  /**
   * What an aborted job becomes: `wait` (the default) puts it back to run again; `fail` fails
   * it like any error (with attempts 1, for good: a sample taken later would carry the wrong time).
   */
  onAbort?: 'wait' | 'fail';
  log?: Logger;
}

interface Running {
  job: Job;
  token: string;
}

const running = new WeakMap<Worker, Set<Running>>();

export function abortableWorker<D, R>(
  queue: string,
  run: (job: Job<D, R>, signal: AbortSignal) => Promise<R>,
  opts: AbortableOptions,
): Worker<D, R> {
  const { onAbort = 'wait', log, ...workerOpts } = opts;
  const jobs = new Set<Running>();
  const idle = new AbortController().signal;
  // Three parameters, none with a default: BullMQ passes a signal only to a processor whose
  // `length` is 3 or more.
  const worker: Worker<D, R> = new Worker<D, R>(
    queue,
    async (job, token, jobSignal) => {
      const signal = jobSignal ?? idle;
      const entry = token === undefined ? undefined : { job: job as Job, token };
      if (entry) jobs.add(entry);
      try {
        // A job fetched while the worker began to close is not started.
        if (worker.closing) throw new AbortError('job aborted: the worker is closing');
        return await run(job, signal);
      } catch (err) {
        if (!signal.aborted && !isAbortError(err)) throw err;
        if (onAbort === 'fail' || token === undefined) throw err;
        await job.moveToWait(token);
        log?.info({ queue, job: job.id }, 'job aborted: moved back to wait, to run again');
        // Tells the worker the job has been moved: not completed, not failed.
        throw new WaitingError();
      } finally {
        if (entry) jobs.delete(entry);
      }
    },
    workerOpts,
  );
  running.set(worker, jobs);
  return worker;
}

/**
 * On a forced exit: the jobs `worker` still runs go back to wait (their locks released), so the
 * next start runs them at once instead of waiting for BullMQ to find them stalled. Resolves with
 * how many were moved, within `budgetMs`.
 */
export async function releaseRunning(workers: Worker[], budgetMs = 1_000): Promise<number> {
  let moved = 0;
  const all = workers.flatMap((w) => [...(running.get(w) ?? [])]);
  await Promise.race([
    Promise.all(
      all.map(({ job, token }) =>
        job.moveToWait(token).then(
          () => void (moved += 1),
          () => undefined,
        ),
      ),
    ),
    new Promise((r) => setTimeout(r, budgetMs).unref()),
  ]);
  return moved;
}
