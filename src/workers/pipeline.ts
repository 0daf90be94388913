// Which completed job asks for which next one. Each entry reads: when a job of `after`
// completes and `when` holds for its result, ask for `then`. The warm job is deduplicated
// (requestWarm), so however many completions ask, a pass runs at most once per WARM_INTERVAL.
import type { Logger } from '../infra/logger.js';
import type { WarmPayload } from '../jobs/warm.js';
import { requestWarm, type JobResults, type Queues } from './queues.js';
import type { PulseWorker } from './start-worker.js';

/** The stages whose completion can ask for a warm pass; each is the pass's `reason`. */
type Stage = Extract<keyof JobResults, WarmPayload['reason']>;

type Chain = {
  [K in Stage]: { after: K; when: (result: JobResults[K]) => boolean; then: 'warm' };
}[Stage];

export const PIPELINE: readonly Chain[] = [
  // New points make the dashboard stale.
  { after: 'flush', when: (r) => r.inserted > 0, then: 'warm' },
  // So do new rollup rows.
  { after: 'aggregate', when: (r) => r.rows > 0, then: 'warm' },
  // Every run stores a new report.
  { after: 'regression', when: () => true, then: 'warm' },
];

export type PipelineWorkers = { [K in Stage]: PulseWorker<K> };

export interface PipelineOptions {
  queues: Queues;
  warmIntervalMs: number;
  log: Logger;
}

/** Adds a `completed` listener per PIPELINE entry to the worker of its `after` stage. */
export function connectPipeline(workers: PipelineWorkers, opts: PipelineOptions): void {
  for (const chain of PIPELINE) {
    const ask = () =>
      requestWarm(opts.queues, chain.after, opts.warmIntervalMs).catch((err: unknown) =>
        opts.log.warn({ err: (err as Error).message }, 'could not ask for a cache warm-up'),
      );
    // One listener type per stage: the worker and the entry share `after`.
    const worker = workers[chain.after] as PulseWorker<Stage>;
    const when = chain.when as (result: JobResults[Stage]) => boolean;
    worker.on('completed', (_job, result) => {
      if (when(result)) void ask();
    });
  }
}
