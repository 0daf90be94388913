// The import benchmark's tables: each stage against raw COPY and its goal, what each import
// stored and built, and the CPU each timed stage used.
import { BASELINE_LABEL, BASELINE_TEXT, copyRow, noisyStage } from '../baseline.js';
import type { CopyStageFigures } from '../copy-stage.js';
import { type Cores, noiseNote } from '../cpu.js';
import { fixed, int, type Table, verdict } from '../report.js';
import { goalOf, RUN_LABEL } from './goals.js';
import type { ImportRun } from './stages.js';

export interface Tables {
  stage: Table;
  detail: Table;
  cpu: Table;
}

function stageTable(n: number, baseline: CopyStageFigures, runs: ImportRun[]): Table {
  return {
    header: ['Stage', 'Rows', 'Time (s)', 'Rows/s', 'vs COPY', 'Goal', 'Result'],
    right: [1, 2, 3, 4],
    rows: [
      copyRow(n, baseline, 'single'),
      copyRow(n, baseline, 'parallel'),
      ...runs.map((r) => {
        const g = goalOf(r);
        return [
          RUN_LABEL(r),
          int(n),
          fixed(r.ms / 1_000, 2),
          int(r.rowsPerSec),
          fixed(r.ratio, 2),
          g.target,
          verdict(g),
        ];
      }),
    ],
  };
}

function detailTable(runs: ImportRun[]): Table {
  return {
    header: [
      'Import',
      'Imported',
      'Already stored',
      'Closed hours built',
      'rollup_1m rows',
      'Points in rollup_1m / 1h',
      'Regression slots',
    ],
    right: [1, 2, 3, 4, 5, 6],
    rows: runs.map((r) => [
      RUN_LABEL(r),
      int(r.result.imported),
      int(r.result.duplicates),
      int(r.result.rollupHours),
      int(r.counts.rollup1mRows),
      `${int(r.counts.rollup1m)} / ${int(r.counts.rollup1h)}`,
      int(r.counts.regressionSlots),
    ]),
  };
}

// /proc counts CPU in 10 ms ticks: below a second the averages say nothing.
const cores = (c: Cores, ms: number) =>
  (['bench', 'postgres', 'redis', 'other'] as const).map((g) =>
    ms < 1_000 ? '—' : fixed(c[g], 2),
  );

function cpuTable(baseline: CopyStageFigures, runs: ImportRun[]): Table {
  return {
    header: ['CPU (cores used)', 'bench (the import)', 'postgres', 'redis', 'other'],
    right: [1, 2, 3, 4],
    rows: [
      [BASELINE_LABEL.single, ...cores(baseline.single.cpu, baseline.single.ms)],
      [BASELINE_LABEL.parallel, ...cores(baseline.parallel.cpu, baseline.parallel.ms)],
      ...runs.map((r) => [RUN_LABEL(r), ...cores(r.cpu, r.ms)]),
    ],
  };
}

export function tables(n: number, baseline: CopyStageFigures, runs: ImportRun[]): Tables {
  return {
    stage: stageTable(n, baseline, runs),
    detail: detailTable(runs),
    cpu: cpuTable(baseline, runs),
  };
}

/** Which raw COPY the ratios use. */
export function usedNoteOf(baseline: CopyStageFigures): string {
  return `Ratios ("vs COPY") use the faster raw COPY of the same rows into \`points\`: ${BASELINE_TEXT[baseline.used]}, ${int(baseline.rowsPerSec)} rows/s.`;
}

/** True if processes outside the benchmark used more than NOISE_CORES during a timed stage. */
export function noisyRun(baseline: CopyStageFigures, runs: ImportRun[]): boolean {
  const timed = [baseline.single, baseline.parallel, ...runs];
  return noisyStage(timed);
}

export const NOISE_NOTE = noiseNote('a stage');
