// Runs the process sampler on a local node-cron timer in every pulse process, api and worker
// alike, and sends its points through the buffer like any other point.
import cron from 'node-cron';
import type { Logger } from '../infra/logger.js';
import { refusedBecause, type PointBuffer } from '../metrics/buffer.js';
import { refusalReason } from '../metrics/series-registry.js';
import type { Tags } from '../metrics/series.js';
import { ProcessSampler } from '../samplers/process.js';
import { toPoints } from '../samplers/to-points.js';

/** A cron expression (with seconds) for an interval of whole seconds dividing a minute. */
export function cronEvery(intervalMs: number): string {
  const seconds = intervalMs / 1_000;
  return seconds >= 60 ? '0 * * * * *' : `*/${seconds} * * * * *`;
}

export function startProcessSampling(deps: {
  buffer: PointBuffer;
  log: Logger;
  intervalMs: number;
  tags: Tags;
  acceptMs: number;
  seriesLimited?(metric: string, points: number): void;
}): { stop(): Promise<void> } {
  const sampler = new ProcessSampler();
  sampler.start();
  let failing = false;
  const task = cron.schedule(
    cronEvery(deps.intervalMs),
    async () => {
      const now = Date.now();
      const { points } = toPoints(sampler.collect(), deps.tags, now, deps.acceptMs);
      try {
        const { result, refused } = await deps.buffer.appendWhatFits(points);
        for (const r of refused) {
          deps.seriesLimited?.(r.metricName, r.points);
          deps.log.warn({ metric: r.metricName }, `process samples left out: ${refusalReason(r)}`);
        }
        if (!result.accepted) throw new Error(refusedBecause(result));
        if (failing) deps.log.info('process samples are buffered again');
        failing = false;
      } catch (err) {
        // Logged once per outage: a sample lost while Redis is away is not worth a log line each.
        if (!failing)
          deps.log.warn(
            { err: (err as Error).message },
            'process samples could not be buffered; dropping them until the buffer takes them again',
          );
        failing = true;
      }
    },
    { name: 'process-sampler', noOverlap: true, unref: true },
  );
  return {
    async stop() {
      await task.destroy();
      sampler.stop();
    },
  };
}
