// Timed runs of the regression benchmark: pulse's regression job in this process.
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import type { Db } from '../../../src/infra/db.js';
import {
  regression,
  type RegressionConfig,
  type RegressionRun,
} from '../../../src/jobs/regression.js';
import { progress } from '../env.js';
import { fixed, percentile } from '../report.js';

export interface Timed {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runsMs: number[];
}

export function timed(runsMs: number[]): Timed {
  const sorted = [...runsMs].sort((a, b) => a - b);
  return {
    medianMs: percentile(sorted, 50),
    minMs: sorted[0] as number,
    maxMs: sorted[sorted.length - 1] as number,
    runsMs,
  };
}

/** One untimed regression run, then `runs` timed; the last run and the median run's phases. */
export async function pulseRuns(
  db: Db,
  config: RegressionConfig,
  endMs: number,
  runs: number,
  label: string,
): Promise<{ timing: Timed; last: RegressionRun; phases: RegressionRun['ms'] }> {
  const log = pino({ level: 'warn' }, pino.destination(2));
  const once = () => regression({ db, log, config, now: () => endMs }, { reason: 'manual' });
  progress(`${label}: regression run, one untimed then ${runs} timed`);
  let last = await once();
  const runsMs: number[] = [];
  const phases: RegressionRun['ms'][] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    last = await once();
    runsMs.push(performance.now() - t);
    phases.push(last.ms);
    progress(
      `${label}: run ${i + 1}: ${fixed(runsMs[i] as number, 0)} ms (read ${fixed(last.ms.read, 0)}, analyse ${fixed(last.ms.analyse, 0)}, store ${fixed(last.ms.store, 0)})`,
    );
  }
  const mid = phases[runsMs.indexOf(timed(runsMs).medianMs)] ?? last.ms;
  return { timing: timed(runsMs), last, phases: mid };
}
