// The raw COPY baseline the ingest and rollup benchmarks measure their writes against.
import { type Cores, NOISE_CORES } from './cpu.js';
import { fixed, int } from './report.js';

export type BaselineKind = 'single' | 'parallel';
export const BASELINE_LABEL: Record<BaselineKind, string> = {
  single: 'Raw COPY, 1 stream',
  parallel: 'Raw COPY, 2 parallel streams',
};
export const BASELINE_TEXT: Record<BaselineKind, string> = {
  single: 'one COPY stream',
  parallel: '2 parallel COPY streams',
};

export interface CopyRun {
  streams: number;
  ms: number;
  cpu: Cores;
  rowsPerSec: number;
}

export interface BaselineFigures {
  single: CopyRun;
  parallel: CopyRun;
  /** The faster of the two: every ratio is taken against it. */
  used: BaselineKind;
  rowsPerSec: number;
  bytes: number;
}

/** A baseline run as a row of a stage table (stage, rows, s, rows/s, ratio, goal, result). */
export function copyRow(n: number, baseline: BaselineFigures, kind: BaselineKind): string[] {
  const run = baseline[kind];
  return [
    BASELINE_LABEL[kind],
    int(n),
    fixed(run.ms / 1_000, 2),
    int(run.rowsPerSec),
    fixed(run.rowsPerSec / baseline.rowsPerSec, 2),
    '—',
    kind === baseline.used ? 'baseline' : '—',
  ];
}

function copyJson(run: CopyRun, baseline: BaselineFigures) {
  return {
    streams: run.streams,
    cpuCores: run.cpu,
    seconds: run.ms / 1_000,
    rowsPerSec: run.rowsPerSec,
    ratioToBaseline: run.rowsPerSec / baseline.rowsPerSec,
  };
}

/** The baseline as the results files hold it. */
export function baselineJson(baseline: BaselineFigures & { buildMs?: number }) {
  return {
    used: baseline.used,
    rowsPerSec: baseline.rowsPerSec,
    ...(baseline.buildMs === undefined ? {} : { buildSeconds: baseline.buildMs / 1_000 }),
    dataMb: baseline.bytes / 1_048_576,
    single: copyJson(baseline.single, baseline),
    parallel: copyJson(baseline.parallel, baseline),
  };
}

/** True if processes outside the benchmark used more than NOISE_CORES during a timed stage. */
export const noisyStage = (timed: { ms: number; cpu: Cores }[]): boolean =>
  timed.some((x) => x.ms >= 1_000 && x.cpu.other > NOISE_CORES);
