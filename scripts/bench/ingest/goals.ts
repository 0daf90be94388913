// What the ingest benchmark's figures are held to: the flush and each layout end to end against
// raw COPY, the flush worker's peak RSS, a clean exit on SIGTERM, and what warming costs ingest.
import type { CopyStageFigures } from '../copy-stage.js';
import { fixed, type Goal } from '../report.js';
import { type E2eFigures, workerProcess } from './e2e.js';
import type { ProcessFigures } from './pulse.js';
import { type FlushFigures, type Layout, LAYOUT_LABEL } from './setup.js';

export const GOALS = { flushRatio: 0.8, e2eRatio: 0.5, rssMb: 200, warmCostRatio: 0.9 };

/** A run's figures, stage by stage. */
export interface Figures {
  baseline: CopyStageFigures;
  flush: FlushFigures;
  e2es: E2eFigures[];
  /** The last layout again, with the warm queue paused. */
  noWarm: E2eFigures;
}

export interface LayoutGoals {
  ratio: Goal;
  workerRss: Goal;
  exitZero: Goal;
}

export interface Goals {
  flushRatio: Goal;
  e2e: Partial<Record<Layout, LayoutGoals>>;
}

/** What warming costs ingest: the last layout with the warm job over the warm queue paused. */
export interface WarmCost {
  layout: Layout;
  /** The run with the warm job (the last layout's end-to-end run). */
  warmOn: E2eFigures;
  ratio: number;
  goal: Goal;
}

export const mb = (x: number | null) => (x === null ? 'unknown' : `${fixed(x, 0)} MB`);
export const exitText = (p: ProcessFigures) =>
  p.exitCode === null
    ? `signal ${p.exitSignal}${p.killed ? ' (killed)' : ''}`
    : `exit ${p.exitCode}`;

function layoutGoals(e2e: E2eFigures): LayoutGoals {
  const label = LAYOUT_LABEL[e2e.layout];
  const rss = workerProcess(e2e)?.peakRssMb ?? null;
  return {
    ratio: {
      name: `end to end (${label}) / raw COPY`,
      target: `≥ ${fixed(GOALS.e2eRatio, 2)}`,
      actual: fixed(e2e.ratio, 2),
      pass: e2e.ratio >= GOALS.e2eRatio,
    },
    workerRss: {
      name: `worker process peak RSS (${label})`,
      target: `≤ ${GOALS.rssMb} MB`,
      actual: mb(rss),
      pass: rss !== null && rss <= GOALS.rssMb,
    },
    exitZero: {
      name: `exit on SIGTERM (${label})`,
      target: 'exit 0',
      actual: e2e.processes
        .map((p) => (e2e.processes.length > 1 ? `${p.role} ${exitText(p)}` : exitText(p)))
        .join(', '),
      pass: e2e.processes.every((p) => p.exitCode === 0),
    },
  };
}

export function goalsOf(flushF: FlushFigures, e2es: E2eFigures[]): Goals {
  const goals: Goals = {
    flushRatio: {
      name: 'flush / raw COPY',
      target: `≥ ${fixed(GOALS.flushRatio, 2)}`,
      actual: fixed(flushF.ratio, 2),
      pass: flushF.ratio >= GOALS.flushRatio,
    },
    e2e: {},
  };
  for (const e2e of e2es) goals.e2e[e2e.layout] = layoutGoals(e2e);
  return goals;
}

export function allGoals(goals: Goals): Goal[] {
  return [
    goals.flushRatio,
    ...Object.values(goals.e2e).flatMap((g) => [g.ratio, g.workerRss, g.exitZero]),
  ];
}

/** The warm job must cost ingest little: the last layout's run over the one with it paused. */
export function warmCostOf(f: Figures): WarmCost {
  const warmOn = f.e2es[f.e2es.length - 1] as E2eFigures;
  const layout = f.noWarm.layout;
  const ratio = warmOn.pointsPerSec / f.noWarm.pointsPerSec;
  const goal: Goal = {
    name: `end to end (${LAYOUT_LABEL[layout]}) with the warm job ÷ warm queue paused`,
    target: `≥ ${fixed(GOALS.warmCostRatio, 2)}`,
    actual: fixed(ratio, 2),
    pass: ratio >= GOALS.warmCostRatio,
  };
  return { layout, warmOn, ratio, goal };
}
