// The ingest benchmark's tables and notes: each stage against raw COPY and its goal, the
// per-process measures, the end-to-end details per layout, and the CPU each timed stage used.
import { BASELINE_LABEL, BASELINE_TEXT, copyRow, noisyStage } from '../baseline.js';
import type { CopyStageFigures } from '../copy-stage.js';
import { type Cores, CPU_GROUPS, noiseNote } from '../cpu.js';
import { fixed, type Goal, int, type Table, verdict } from '../report.js';
import type { E2eFigures } from './e2e.js';
import { type Figures, type Goals, mb, type WarmCost } from './goals.js';
import type { Role } from './pulse.js';
import { type FlushFigures, LAYOUT_LABEL } from './setup.js';

export interface Tables {
  stage: Table;
  detail: Table;
  e2eDetail: Table;
  cpu: Table;
}

const e2eLabel = (e2e: E2eFigures) => `End to end (HTTP, ${LAYOUT_LABEL[e2e.layout]})`;
const flushLabel = (flushF: FlushFigures) => `Flush (Redis → PG, ${flushF.concurrency} concurrent)`;

function stageTable(n: number, f: Figures, goals: Goals): Table {
  const { baseline, flush: flushF, e2es } = f;
  return {
    header: ['Stage', 'Points', 'Time (s)', 'Points/s', 'vs COPY', 'Goal', 'Result'],
    right: [1, 2, 3, 4],
    rows: [
      copyRow(n, baseline, 'single'),
      copyRow(n, baseline, 'parallel'),
      [
        flushLabel(flushF),
        int(n),
        fixed(flushF.ms / 1_000, 2),
        int(flushF.pointsPerSec),
        fixed(flushF.ratio, 2),
        goals.flushRatio.target,
        verdict(goals.flushRatio),
      ],
      ...e2es.map((e2e) => {
        const g = goals.e2e[e2e.layout]?.ratio as Goal;
        return [
          e2eLabel(e2e),
          int(n),
          fixed(e2e.ms / 1_000, 2),
          int(e2e.pointsPerSec),
          fixed(e2e.ratio, 2),
          g.target,
          verdict(g),
        ];
      }),
    ],
  };
}

function detailTable(f: Figures, goals: Goals): Table {
  const { flush: flushF, e2es } = f;
  const pct = (x: number) => `${int((100 * x) / flushF.loopMs)}%`;
  const detailRows: string[][] = [];
  for (const e2e of e2es) {
    const g = goals.e2e[e2e.layout];
    if (!g) continue;
    detailRows.push([
      `Worker process peak RSS (VmHWM), ${LAYOUT_LABEL[e2e.layout]}`,
      g.workerRss.actual,
      g.workerRss.target,
      verdict(g.workerRss),
    ]);
    for (const p of e2e.processes.filter((x) => x.role === 'api')) {
      detailRows.push([
        `API process peak RSS (VmHWM), ${LAYOUT_LABEL[e2e.layout]}`,
        mb(p.peakRssMb),
        '—',
        'info',
      ]);
    }
  }
  for (const e2e of e2es) {
    const g = goals.e2e[e2e.layout];
    if (g)
      detailRows.push([
        `Exit on SIGTERM, ${LAYOUT_LABEL[e2e.layout]}`,
        g.exitZero.actual,
        g.exitZero.target,
        verdict(g.exitZero),
      ]);
  }
  // Reads of the next batch overlap the current write (prefetch), so these shares may add up
  // to more than 100 %: each is the time spent inside that call, over both flush loops.
  detailRows.push([
    'Flush loop time inside read / write / ack (overlapping)',
    `${pct(flushF.readMs)} / ${pct(flushF.writeMs)} / ${pct(flushF.ackMs)}`,
    '—',
    '—',
  ]);
  return { header: ['Measure', 'Value', 'Goal', 'Result'], right: [], rows: detailRows };
}

function e2eDetailTable(e2es: E2eFigures[]): Table {
  const perLayout = (f: (e: E2eFigures) => string) => e2es.map(f);
  return {
    header: ['End to end', ...e2es.map((e) => LAYOUT_LABEL[e.layout])],
    right: e2es.map((_, i) => i + 1),
    rows: [
      ['HTTP accept rate (points/s)', ...perLayout((e) => int(e.acceptPointsPerSec))],
      ['Drain after last POST (s)', ...perLayout((e) => fixed(e.drainMs / 1_000, 2))],
      ['Max buffer depth (points)', ...perLayout((e) => int(e.maxBufferDepth))],
      [
        'POST latency p50 / p99 (ms)',
        ...perLayout((e) => `${int(e.latencyP50Ms)} / ${int(e.latencyP99Ms)}`),
      ],
      ['503 answers, retried', ...perLayout((e) => int(e.retries503))],
      [
        'Warning/error log lines',
        ...perLayout((e) => int(e.processes.reduce((k, p) => k + p.warnLines, 0))),
      ],
    ],
  };
}

// /proc counts CPU in 10 ms ticks: below a second the averages say nothing. A pulse column
// that does not apply to a stage (no such process ran) shows "—".
const cores = (c: Cores, ms: number, running: Role[]) =>
  CPU_GROUPS.map((g) =>
    ms < 1_000 || ((g === 'all' || g === 'api' || g === 'worker') && !running.includes(g))
      ? '—'
      : fixed(c[g], 2),
  );

function cpuTable(f: Figures): Table {
  const { baseline, flush: flushF, e2es } = f;
  return {
    header: [
      'CPU (cores used)',
      'bench',
      'pulse all',
      'pulse api',
      'pulse worker',
      'postgres',
      'redis',
      'other',
    ],
    right: [1, 2, 3, 4, 5, 6, 7],
    rows: [
      [BASELINE_LABEL.single, ...cores(baseline.single.cpu, baseline.single.ms, [])],
      [BASELINE_LABEL.parallel, ...cores(baseline.parallel.cpu, baseline.parallel.ms, [])],
      [flushLabel(flushF), ...cores(flushF.cpu, flushF.ms, [])],
      ...e2es.map((e) => [
        e2eLabel(e),
        ...cores(
          e.cpu,
          e.ms,
          e.processes.map((p) => p.role),
        ),
      ]),
    ],
  };
}

export function tables(n: number, f: Figures, goals: Goals): Tables {
  return {
    stage: stageTable(n, f, goals),
    detail: detailTable(f, goals),
    e2eDetail: e2eDetailTable(f.e2es),
    cpu: cpuTable(f),
  };
}

/** Which raw COPY the ratios use. */
export function usedNoteOf(baseline: CopyStageFigures): string {
  return `Ratios ("vs COPY") use the faster raw COPY: ${BASELINE_TEXT[baseline.used]}, ${int(baseline.rowsPerSec)} rows/s.`;
}

/** The warm job's cost to ingest, in a sentence. */
export function warmLineOf(w: WarmCost, noWarm: E2eFigures): string {
  const label = LAYOUT_LABEL[w.layout];
  return `Warm job's cost to ingest (${label}): ${int(w.warmOn.pointsPerSec)} points/s with ${w.warmOn.warmPasses} warm passes during the run, ${int(noWarm.pointsPerSec)} points/s with the warm queue paused: ratio ${fixed(w.ratio, 2)} (goal ${w.goal.target}).`;
}

/** True if processes outside the benchmark used more than NOISE_CORES during a timed stage. */
export function noisyRun(f: Figures): boolean {
  const timed = [f.baseline.single, f.baseline.parallel, f.flush, ...f.e2es, f.noWarm];
  return noisyStage(timed);
}

export const NOISE_NOTE = noiseNote('a stage');
