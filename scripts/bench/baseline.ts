// The raw COPY baseline the ingest and rollup benchmarks measure their writes against.
import type { Cores } from './cpu.js';

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
