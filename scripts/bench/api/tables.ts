// The API benchmark's tables (as text on stdout and Markdown in bench/RESULTS.md) and the line
// on the live run.
import { NOISE_CORES } from '../cpu.js';
import { fixed, int } from '../report.js';
import { type Cores, CPU_GROUPS } from './cpu.js';
import type { ApiFigures, Ratios } from './figures.js';
import { type ApiGoal, type HeadlineGoals, verdict } from './goals.js';
import type { LoadRun } from './load.js';
import type { ScaleFigures } from './scale.js';
import { ms, type Timed, times } from './stats.js';

export interface Table {
  header: string[];
  right: number[];
  rows: string[][];
}

/** A row of the main table without a goal of its own. */
const info = (measure: string, measured: string, against: string, ratio: string) => [
  measure,
  measured,
  against,
  ratio,
  '—',
  'info',
];

function summaryRows(f: ApiFigures, r: Ratios, goals: HeadlineGoals): string[][] {
  const { load, unloaded, plan, miss } = f;
  const api = load.summaryApi.latency;
  const bare = load.summaryBaseline.latency;
  const warm1 = unloaded.summaryApi.latency.p50;
  return [
    [
      `Summary 24h warm, req/s (against: bare Express, same ${int(f.answers.summaryBytes)} B body)`,
      int(load.summaryApi.reqPerSec),
      int(load.summaryBaseline.reqPerSec),
      fixed(r.throughput, 2),
      goals.throughputRatio.target,
      verdict(goals.throughputRatio),
    ],
    [
      'Summary 24h warm, p99 ms (against: bare Express)',
      ms(api.p99),
      ms(bare.p99),
      fixed(r.p99, 2),
      goals.p99Ratio.target,
      verdict(goals.p99Ratio),
    ],
    info(
      'Summary 24h warm, p50 ms (against: bare Express)',
      ms(api.p50),
      ms(bare.p50),
      fixed(api.p50 / bare.p50, 2),
    ),
    [
      "Summary 24h: plan's SQL on raw points, median ms (against: warm API p50, 1 connection)",
      ms(plan.medianMs),
      ms(warm1),
      times(r.rawSql),
      goals.rawSqlRatio.target,
      verdict(goals.rawSqlRatio),
    ],
    info(
      `Same, against the warm API p50 at ${f.opts.connections} connections`,
      ms(plan.medianMs),
      ms(api.p50),
      times(r.rawSqlLoaded),
    ),
    info(
      'Summary 24h on a miss (from the rollups), median ms (against: warm, 1 connection)',
      ms(miss.summary24h.medianMs),
      ms(warm1),
      times(miss.summary24h.medianMs / warm1),
    ),
  ];
}

function trendRows(f: ApiFigures): string[][] {
  const { load, unloaded, miss } = f;
  const api = load.trendApi;
  const bare = load.trendBaseline;
  return [
    info(
      `Time-series 7d/1h from cache, req/s (against: bare Express, same ${int(f.answers.trendBytes)} B body)`,
      int(api.reqPerSec),
      int(bare.reqPerSec),
      fixed(api.reqPerSec / bare.reqPerSec, 2),
    ),
    info(
      'Time-series 7d/1h from cache, p50 / p99 ms (against: bare Express)',
      `${ms(api.latency.p50)} / ${ms(api.latency.p99)}`,
      `${ms(bare.latency.p50)} / ${ms(bare.latency.p99)}`,
      fixed(api.latency.p99 / bare.latency.p99, 2),
    ),
    info(
      'Time-series 7d/1h on a miss, median ms (against: from cache, 1 connection)',
      ms(miss.trend7d.medianMs),
      ms(unloaded.trendApi.latency.p50),
      times(miss.trend7d.medianMs / unloaded.trendApi.latency.p50),
    ),
  ];
}

/** The headline: the API against the bare Express baseline and the plan's SQL. */
export function mainTable(f: ApiFigures, r: Ratios, goals: HeadlineGoals): Table {
  return {
    header: ['Measure', 'Measured', 'Against', 'Ratio', 'Goal', 'Result'],
    right: [1, 2, 3],
    rows: [...summaryRows(f, r, goals), ...trendRows(f)],
  };
}

export function fleetTable(goals: ApiGoal[]): Table {
  return {
    header: ['Goal', 'Measured', 'Target', 'Result'],
    right: [1],
    rows: goals.map((g) => [g.name, fixed(g.actual, 2), g.target, verdict(g)]),
  };
}

export function scaleTable({ small, large, growth }: ScaleFigures): Table {
  const row = (label: string, a: number, b: number, grew: number, show = ms) => [
    label,
    show(a),
    show(b),
    times(grew),
  ];
  const seconds = (x: number) => fixed(x, 2);
  return {
    header: [
      '1 day of data, computed in process (no HTTP)',
      int(small.series),
      int(large.series),
      'Growth',
    ],
    right: [1, 2, 3],
    rows: [
      row('Points', small.points, large.points, growth.series, int),
      row(
        'Summary 24h on a miss, median ms',
        small.summary24hMissMs,
        large.summary24hMissMs,
        growth.summary,
      ),
      row(
        'Time-series 24h/5m on a miss, median ms',
        small.trend24hMissMs,
        large.trend24hMissMs,
        growth.trend24h,
      ),
      row(
        'Time-series 7d/1h on a miss, median ms',
        small.trend7dMissMs,
        large.trend7dMissMs,
        growth.trend7d,
      ),
      row(
        `Warm pass (${large.warmEntries} entries), s`,
        small.warmPassS,
        large.warmPassS,
        growth.warm,
        seconds,
      ),
    ],
  };
}

/** Every load run, loaded then unloaded. */
export const allRuns = (f: ApiFigures): LoadRun[] => [
  ...Object.values(f.load),
  ...Object.values(f.unloaded),
];

export function runsTable(f: ApiFigures): Table {
  return {
    header: [
      'Load run',
      'Conns',
      'Requests',
      'Req/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'Max ms',
      'Bytes/answer',
    ],
    right: [1, 2, 3, 4, 5, 6, 7, 8],
    rows: allRuns(f).map((r) => [
      r.label,
      int(r.connections),
      int(r.requests),
      int(r.reqPerSec),
      ms(r.latency.p50),
      ms(r.latency.p90),
      ms(r.latency.p99),
      ms(r.latency.max),
      int(r.responseBytes),
    ]),
  };
}

export function onRequestTable(f: ApiFigures): Table {
  const { plan, miss } = f;
  const metrics = new Set(miss.trendMetrics).size;
  const rows: { label: string; t: Timed }[] = [
    { label: `Plan's SQL on raw points, 24h (${int(plan.rowsScanned)} rows)`, t: plan },
    { label: 'Summary 24h, cache miss (API, from the rollups)', t: miss.summary24h },
    { label: 'Summary 7d, cache miss (API, from the rollups)', t: miss.summary7d },
    { label: `Time-series 24h/5m, cache miss (API, ${metrics} metrics)`, t: miss.trend24h },
    { label: `Time-series 7d/1h, cache miss (API, ${metrics} metrics)`, t: miss.trend7d },
  ];
  return {
    header: ['On request', 'Runs', 'Median ms', 'Min ms', 'Max ms'],
    right: [1, 2, 3, 4],
    rows: rows.map(({ label, t }) => [
      label,
      int(t.runsMs.length),
      ms(t.medianMs),
      ms(t.minMs),
      ms(t.maxMs),
    ]),
  };
}

/** Cores used during each timed run, and whether processes outside the benchmark used many. */
export function cpuTable(f: ApiFigures): { table: Table; noisy: boolean } {
  const cpuRuns: [string, Cores][] = [
    ...allRuns(f).map((r) => [`${r.label}, ${r.connections} conn`, r.cpu] as [string, Cores]),
    ["Plan's SQL on raw points", f.plan.cpu],
  ];
  return {
    table: {
      header: ['CPU (cores used)', 'bench', 'pulse api', 'baseline', 'postgres', 'redis', 'other'],
      right: [1, 2, 3, 4, 5, 6],
      rows: cpuRuns.map(([label, cores]) => [label, ...CPU_GROUPS.map((g) => fixed(cores[g], 2))]),
    },
    noisy: cpuRuns.some(([, cores]) => cores.other > NOISE_CORES),
  };
}

export const NOISE_NOTE = `Processes outside the benchmark used more than ${NOISE_CORES} cores during a run: the machine was not quiet, so the ratios may be off; run again.`;

export function liveLine(f: ApiFigures): string {
  const live = f.live;
  return live
    ? `Live run: ${live.minutes} min of a worker and an api process on their defaults (CACHE_TTL 60 s, WARM_INTERVAL 10 s) under ${int(live.ingestPointsPerSec)} points/s over HTTP, a dashboard polling all ${int(live.requests / Math.max(1, live.polls))} standard entries every 10 s: ${int(live.requests)} requests, ${live.missesAfterFirstPass} computed on a miss after the first warm pass (pulse_cache_lookups_total{result="miss"} ${live.lookupsMiss}); ${live.warmPasses} warm passes, median ${fixed(live.warmPassMs.median / 1_000, 2)} s, longest ${fixed(live.warmPassMs.max / 1_000, 2)} s; request p50 ${ms(live.requestMs.p50)} ms, p99 ${ms(live.requestMs.p99)} ms.`
    : 'Live run skipped (--live-minutes 0).';
}
