// What an ingest benchmark run writes: bench/results/ingest.json and the Ingest section of
// bench/RESULTS.md.
import { ENTRY_POINTS } from '../../../src/metrics/buffer.js';
import { baselineJson } from '../baseline.js';
import { COPY_ROWS_PER_CHUNK } from '../copy-stage.js';
import type { Cores } from '../cpu.js';
import { roleNodeArgs } from '../env.js';
import { APPEND_CHUNK } from '../flush-stage.js';
import * as report from '../report.js';
import { type E2eFigures, workerProcess } from './e2e.js';
import type { ProcessFigures } from './pulse.js';
import { type Figures, GOALS, type Goals, type LayoutGoals, type WarmCost } from './goals.js';
import {
  type FlushFigures,
  HTTP_CONCURRENCY,
  type Layout,
  LAYOUT_LABEL,
  type Options,
  REQUEST_POINTS,
  SPAN_MS,
} from './setup.js';
import { NOISE_NOTE, type Tables } from './tables.js';

export const RESULTS_JSON = report.resultsJsonPath('ingest');

/** What the run says about itself besides the figures. */
export interface RunSummary extends report.RunHeader {
  opts: Options;
  goals: Goals;
  warm: WarmCost;
  /** Every goal, the warm cost's last. */
  goalList: report.Goal[];
  noisy: boolean;
  tables: Tables;
  usedNote: string;
  warmLine: string;
}

/** A timed stage's cores, time, rate and ratio to the baseline. */
function timedJson(x: { cpu: Cores; ms: number; pointsPerSec: number; ratio: number }) {
  return {
    cpuCores: x.cpu,
    seconds: x.ms / 1_000,
    pointsPerSec: x.pointsPerSec,
    ratioToBaseline: x.ratio,
  };
}

function processJson(p: ProcessFigures, cpu: Cores) {
  return {
    runsFlushWorker: p.flushWorker,
    peakRssMb: p.peakRssMb,
    cpuCores: cpu[p.role],
    exitCode: p.exitCode,
    exitSignal: p.exitSignal,
    killedAfterTimeout: p.killed,
    warnLines: p.warnLines,
  };
}

function e2eJson(e2e: E2eFigures) {
  return {
    processes: e2e.processes.map((p) => p.role),
    ...timedJson(e2e),
    postSeconds: e2e.postMs / 1_000,
    acceptPointsPerSec: e2e.acceptPointsPerSec,
    drainSeconds: e2e.drainMs / 1_000,
    requests: e2e.requests,
    retries503: e2e.retries503,
    latencyP50Ms: e2e.latencyP50Ms,
    latencyP99Ms: e2e.latencyP99Ms,
    maxBufferDepth: e2e.maxBufferDepth,
    bufferGrew: e2e.maxBufferDepth > 0,
    workerPeakRssMb: workerProcess(e2e)?.peakRssMb ?? null,
    byProcess: Object.fromEntries(e2e.processes.map((p) => [p.role, processJson(p, e2e.cpu)])),
  };
}

function flushJson(flushF: FlushFigures) {
  return {
    ...timedJson(flushF),
    fillSeconds: flushF.fillMs / 1_000,
    warmupPoints: flushF.warmupPoints,
    batches: flushF.batches,
    loopSecondsSummed: flushF.loopMs / 1_000,
    readSeconds: flushF.readMs / 1_000,
    writeSeconds: flushF.writeMs / 1_000,
    ackSeconds: flushF.ackMs / 1_000,
    decodeAndRestSeconds: (flushF.loopMs - flushF.readMs - flushF.writeMs - flushF.ackMs) / 1_000,
  };
}

function setupJson(layouts: Layout[], flushF: FlushFigures) {
  return {
    timestampsSpanHours: SPAN_MS / 3_600_000,
    appendChunkPoints: APPEND_CHUNK,
    bufferEntryPoints: ENTRY_POINTS,
    flushConcurrency: flushF.concurrency,
    flushReadEntries: flushF.readEntries,
    requestPoints: REQUEST_POINTS,
    httpConcurrency: HTTP_CONCURRENCY,
    copyRowsPerChunk: COPY_ROWS_PER_CHUNK,
    layouts: Object.fromEntries(layouts.map((l) => [l, LAYOUT_LABEL[l]])),
    nodeArgs: Object.fromEntries(ROLES.map((r) => [r, roleNodeArgs(r).join(' ')])),
    notes: [
      'baseline: binary COPY data built before timing; run once as one COPY stream on one connection, then (after TRUNCATE) split in two halves copied by 2 parallel COPY streams on 2 connections; every ratio uses the faster of the two',
      'a CHECKPOINT runs before each baseline run, the flush stage and each end-to-end run',
      'flush: one untimed warm-up batch first (same handler, store and pool), unless --cold',
      'e2e: the system runs on its default configuration (config variables from the shell are dropped); layout all = one `node dist/src/main.js all` process, layout split = one `node dist/src/main.js worker` plus one `node dist/src/main.js api` process on the same database and Redis prefix, each with the node options of its npm script (nodeArgs); a fresh Redis prefix and an empty points table per layout',
      'rss: VmHWM of each pulse process; the goal applies to the process running the flush worker',
      'cpu: average cores used during the timed part, by process group; "other" is everything else on the machine',
    ],
  };
}

function resultsJson(f: Figures, warm: WarmCost) {
  const { baseline } = f;
  return {
    baseline: baselineJson(baseline),
    flush: flushJson(f.flush),
    e2e: Object.fromEntries(f.e2es.map((e) => [e.layout, e2eJson(e)])),
    e2eWarmPaused: { layout: warm.layout, ...e2eJson(f.noWarm) },
    warmPassesDuringE2e: warm.warmOn.warmPasses,
  };
}

const goalJson = (g: report.Goal, target: number, actual: number | null) => ({
  target,
  actual,
  pass: g.pass,
});

function layoutGoalsJson(e: E2eFigures, g: LayoutGoals) {
  return {
    ratio: goalJson(g.ratio, GOALS.e2eRatio, e.ratio),
    workerPeakRssMb: goalJson(g.workerRss, GOALS.rssMb, workerProcess(e)?.peakRssMb ?? null),
    exitZero: {
      target: 0,
      actual: Object.fromEntries(e.processes.map((p) => [p.role, p.exitCode])),
      pass: g.exitZero.pass,
    },
  };
}

function goalsJson(f: Figures, goals: Goals, warm: WarmCost) {
  return {
    baseline: f.baseline.used,
    flushRatio: goalJson(goals.flushRatio, GOALS.flushRatio, f.flush.ratio),
    e2e: Object.fromEntries(
      f.e2es.map((e) => [e.layout, layoutGoalsJson(e, goals.e2e[e.layout] as LayoutGoals)]),
    ),
    warmCostRatio: goalJson(warm.goal, GOALS.warmCostRatio, warm.ratio),
  };
}

function reportJson(run: RunSummary, f: Figures): Record<string, unknown> {
  return {
    benchmark: 'ingest',
    date: run.date,
    machine: run.machine,
    points: run.opts.points,
    series: run.series,
    seed: run.opts.seed,
    setup: setupJson(run.opts.layouts, f.flush),
    noisy: run.noisy,
    results: resultsJson(f, run.warm),
    goals: goalsJson(f, run.goals, run.warm),
    pass: run.goalList.every((g) => g.pass),
  };
}

const md = report.tableMarkdown;

function resultsMarkdown(run: RunSummary, f: Figures): string {
  const { date, machine, tables: t } = run;
  return [
    '## Ingest',
    '',
    '`npm run bench:ingest` — raw COPY into `points` is the baseline; the flush stage drains a full',
    'Redis buffer with the real flush handler; end to end posts over HTTP to the real system until',
    'every point is stored, once per process layout.',
    '',
    `Run of ${date}: ${report.int(run.opts.points)} points over ${run.series} series on ${machine.cpu}`,
    `(${machine.cores} cores), Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}.`,
    '',
    ...report.stagesMarkdown(t.stage, run.usedNote, t.detail),
    md(t.e2eDetail),
    '',
    run.warmLine,
    '',
    'CPU: average cores used during each timed stage; *pulse all / api / worker* are the pulse',
    'processes under test, *other* is every process outside the benchmark (noise on a shared machine).',
    '',
    md(t.cpu),
    '',
    ...(run.noisy ? [`> ${NOISE_NOTE}`, ''] : []),
    'What each stage measures: *raw COPY* is PostgreSQL alone taking the prepared binary rows,',
    `once as one COPY stream and once split in two halves over two parallel streams (the flush stage`,
    `runs ${f.flush.concurrency} transactions at once, so one stream alone would be a soft baseline); every ratio uses`,
    'the faster of the two. *Flush* is the real flush handler (read, decode, series ids, binary COPY,',
    'ack) draining a pre-filled Redis buffer with its default concurrency, in the benchmark process.',
    '*End to end* is the real system as separate processes — one all-in-one process, or one `api`',
    'plus one `worker` process on the same database and Redis prefix, each started with the node',
    `options of its npm script (${nodeArgsLine()}) — fed over HTTP from the first POST until every`,
    'point is stored; the RSS goal applies to the process running the flush worker.',
    '',
  ].join('\n');
}

const ROLES = ['all', 'worker', 'api'] as const;

/** The roles' node options as the text names them: once when every role has the same, else per role. */
function nodeArgsLine(): string {
  const args = ROLES.map((r) => roleNodeArgs(r).join(' '));
  const same = args.every((a) => a === args[0]);
  const shown = (a: string) => (a === '' ? 'none' : `\`${a}\``);
  return same
    ? shown(args[0] as string)
    : ROLES.map((r, i) => `${r}: ${shown(args[i] as string)}`).join(', ');
}

/** Writes bench/results/ingest.json and the Ingest section of bench/RESULTS.md. */
export async function writeResults(run: RunSummary, f: Figures): Promise<void> {
  // Three decimals are plenty for seconds, rates and ratios.
  const round = (_key: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1_000) / 1_000 : v;
  await report.writeResultFiles(
    RESULTS_JSON,
    'Ingest',
    reportJson(run, f),
    resultsMarkdown(run, f),
    round,
  );
}
