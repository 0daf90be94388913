// What the import benchmark's figures are held to: each format's import at half of raw COPY at
// least, and its second run (which only checks) at raw COPY's speed at least.
import { fixed, type Goal } from '../report.js';
import type { Format } from './files.js';
import type { ImportRun } from './stages.js';

export const GOALS = { first: 0.5, second: 1 };

export const RUN_LABEL = (r: Pick<ImportRun, 'format' | 'pass'>) =>
  `Import ${r.format === 'csv' ? 'CSV' : 'NDJSON'}${r.pass === 'second' ? ', second run (stores nothing)' : ''}`;

export function goalOf(r: ImportRun): Goal {
  const target = GOALS[r.pass];
  return {
    name: `${RUN_LABEL(r)} / raw COPY`,
    target: `≥ ${fixed(target, 2)}`,
    actual: fixed(r.ratio, 2),
    pass: r.ratio >= target,
  };
}

export const formatsOf = (runs: ImportRun[]): Format[] => [...new Set(runs.map((r) => r.format))];
