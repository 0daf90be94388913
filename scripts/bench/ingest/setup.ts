// What the ingest benchmark's stages share: its options, the process layouts of the end-to-end
// stage, the request size and concurrency, and the figures of the flush stage.
import type { FlushRun } from '../flush-stage.js';

export const REQUEST_POINTS = 5_000; // points per HTTP request
export const HTTP_CONCURRENCY = 4;
export const SPAN_MS = 3 * 3_600_000; // timestamps spread over the last 3 hours

export type Layout = 'all' | 'split';
export const LAYOUTS: Layout[] = ['all', 'split'];
export const LAYOUT_LABEL: Record<Layout, string> = { all: 'all-in-one', split: 'api + worker' };

export interface Options {
  points: number;
  layouts: Layout[];
  databaseUrl: string;
  redisUrl: string;
  seed: number;
  failOnGoal: boolean;
  cold: boolean;
}

/** The flush stage's run and its ratio to the faster raw COPY. */
export interface FlushFigures extends FlushRun {
  ratio: number;
}
