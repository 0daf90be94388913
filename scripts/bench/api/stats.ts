// Medians of timed runs, and how the API benchmark prints milliseconds and ratios.
import { performance } from 'node:perf_hooks';
import { fixed, int, percentile } from '../report.js';

export const sortedOf = (xs: number[]) => [...xs].sort((a, b) => a - b);
export const median = (xs: number[]) => percentile(sortedOf(xs), 50);
export const ms = (x: number) => (x >= 100 ? fixed(x, 0) : x >= 10 ? fixed(x, 1) : fixed(x, 2));
export const times = (x: number) => `${x >= 100 ? int(x) : fixed(x, 1)}×`;

export interface Timed {
  runsMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export function timed(runsMs: number[]): Timed {
  const s = sortedOf(runsMs);
  return {
    runsMs,
    medianMs: median(runsMs),
    minMs: s[0] ?? NaN,
    maxMs: s[s.length - 1] ?? NaN,
  };
}

/** Median of `runs` timed calls, after one untimed. */
export async function medianMs(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}
