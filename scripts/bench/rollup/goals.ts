// What the rollup benchmark's figures are held to: its goals, the stages the machine was not quiet
// during, and how an error in percent is written.
import { BASELINE_LABEL } from '../baseline.js';
import type { CopyStageFigures } from '../copy-stage.js';
import { type Cores, NOISE_CORES } from '../cpu.js';
import { fixed, type Goal, int } from '../report.js';
import type { AccuracyFigures } from './accuracy.js';
import type { FlushFigures } from './flush.js';
import type { HourFigures } from './hour.js';
import type { MinuteFigures } from './minute.js';

export const GOALS = { flushRatio: 0.5, minuteRatio: 1.5, maxErrorPct: 1 };

/** A relative error in percent; more digits where three would round it onto the goal. */
export function pct(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const short = fixed(x, 3);
  return `${Number(short) === GOALS.maxErrorPct && x !== GOALS.maxErrorPct ? fixed(x, 6) : short} %`;
}

export interface Figures {
  baseline?: CopyStageFigures;
  flush?: FlushFigures;
  minute?: MinuteFigures;
  hour?: HourFigures;
  accuracy?: AccuracyFigures;
}

export const ROLLUPS_OFF =
  'not measurable without changing src/: PointStore.write always updates rollup_1m (no setting turns it off)';

export function waitText(fl: FlushFigures): string {
  const parts = Object.entries(fl.waits)
    .filter(([, n]) => n / fl.busySamples >= 0.01)
    .slice(0, 3)
    .map(([w, n]) => `${w} ${int((100 * n) / fl.busySamples)}%`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

export function goalsOf(f: Figures): Goal[] {
  const goals: Goal[] = [];
  if (f.flush)
    goals.push({
      name: 'flush with rollup_1m / raw COPY',
      target: `≥ ${fixed(GOALS.flushRatio, 2)}`,
      actual: fixed(f.flush.ratio, 2),
      pass: f.flush.ratio >= GOALS.flushRatio,
    });
  if (f.minute)
    goals.push({
      name: 'new minute, large history / small history',
      target: `≤ ${fixed(GOALS.minuteRatio, 2)}`,
      actual: fixed(f.minute.ratio, 2),
      pass: f.minute.ratio <= GOALS.minuteRatio,
    });
  if (f.accuracy)
    goals.push({
      name: 'p95/p99 max relative error',
      target: `≤ ${GOALS.maxErrorPct} %`,
      actual: pct(f.accuracy.all.max),
      pass: f.accuracy.all.max <= GOALS.maxErrorPct && f.accuracy.countMismatches === 0,
    });
  return goals;
}

/** Timed stages during which processes outside the benchmark used the cores. */
export function noisyStages(f: Figures): string[] {
  const timed: [string, { cpu: Cores }, number][] = [];
  if (f.baseline) {
    timed.push([BASELINE_LABEL.single, f.baseline.single, f.baseline.single.ms]);
    timed.push([BASELINE_LABEL.parallel, f.baseline.parallel, f.baseline.parallel.ms]);
  }
  if (f.flush) timed.push(['flush', f.flush, f.flush.ms]);
  if (f.minute) {
    timed.push(['new minutes (small)', f.minute.small, f.minute.small.timedMs]);
    timed.push(['new minutes (large)', f.minute.large, f.minute.large.timedMs]);
  }
  if (f.hour) timed.push(['rollup_1h build', f.hour, f.hour.ms]);
  return timed.filter(([, x, ms]) => ms >= 1_000 && x.cpu.other > NOISE_CORES).map(([n]) => n);
}
