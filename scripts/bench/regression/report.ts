// The regression benchmark's report: its goals, the table of its cases (stdout and the
// regression section of bench/RESULTS.md) and bench/results/regression.json.
import os from 'node:os';
import path from 'node:path';
import { progress, redactUrl } from '../env.js';
import {
  fixed,
  int,
  markdownTable,
  RESULTS_MD,
  ROOT,
  textTable,
  writeResultFiles,
} from '../report.js';
import type { Case, Options } from './case.js';
import { WEEKEND_LEVEL } from './fleet.js';

const RESULTS_JSON = path.join(ROOT, 'bench', 'results', 'regression.json');
const GOALS = { runS: 5 };

const s2 = (ms: number) => fixed(ms / 1_000, 2);

export interface RegressionGoal {
  name: string;
  goal: string;
  value: string;
  passed: boolean;
}

/** The whole run's time (first case) and, for every case, the planted steps and nothing else. */
export function goalsOf(opts: Options, cases: Case[]): RegressionGoal[] {
  const main = cases[0] as Case;
  return [
    {
      name: `whole run, ${int(main.series)} series × ${opts.days} days`,
      goal: `≤ ${GOALS.runS} s`,
      value: `${s2(main.pulse.medianMs)} s`,
      passed: main.pulse.medianMs <= GOALS.runS * 1_000,
    },
    ...cases.map((c) => ({
      name: `planted steps CRITICAL, ${int(c.series)} series × ${c.days} days`,
      goal: `${c.verdict.planted} of ${c.verdict.planted}`,
      value: `${c.verdict.plantedFound} of ${c.verdict.planted}`,
      passed: c.verdict.plantedFound === c.verdict.planted,
    })),
    ...cases.map((c) => ({
      name: `other WARNING or CRITICAL entries, ${int(c.series)} series × ${c.days} days`,
      goal: '0',
      value: String(c.verdict.falseAlarms.length),
      passed: c.verdict.falseAlarms.length === 0,
    })),
  ];
}

export interface Tables {
  header: string[];
  rows: string[][];
  right: number[];
  goalRows: string[][];
}

const HEADER = [
  'series',
  'days',
  'points',
  'units',
  'pulse run',
  'read',
  'analyse',
  'store',
  "plan's SQL",
  'plan / pulse',
  'listed',
  'CRIT',
  'WARN',
  'planted found',
  'other alarms',
];

/** A row per case, every column right-aligned, and a row per goal. */
export function tablesOf(cases: Case[], goals: RegressionGoal[]): Tables {
  const rows = cases.map((c) => [
    int(c.series),
    String(c.days),
    int(c.points),
    int(c.verdict.analysed),
    `${s2(c.pulse.medianMs)} s`,
    `${s2(c.phases.read)} s`,
    `${s2(c.phases.analyse)} s`,
    `${s2(c.phases.store)} s`,
    `${s2(c.plan.medianMs)} s`,
    `${fixed(c.plan.medianMs / c.pulse.medianMs, 1)}×`,
    int(c.verdict.listed),
    int(c.verdict.critical),
    int(c.verdict.warning),
    `${c.verdict.plantedFound} / ${c.verdict.planted}`,
    int(c.verdict.falseAlarms.length),
  ]);
  const goalRows = goals.map((g) => [g.name, g.goal, g.value, g.passed ? 'met' : 'MISSED']);
  return { header: HEADER, rows, right: HEADER.map((_, i) => i), goalRows };
}

/** The tables on stdout, then each case's other alarms. */
export function printTables(cases: Case[], t: Tables): void {
  process.stdout.write(
    `\n${textTable(t.header, t.rows, t.right)}\n\n${textTable(['goal', 'target', 'measured', ''], t.goalRows)}\n`,
  );
  for (const c of cases)
    for (const a of c.verdict.falseAlarms)
      process.stdout.write(`  other alarm (${int(c.series)} series × ${c.days} days): ${a}\n`);
}

/** How a run grows from the small scale case to the large one ('' without them). */
function growthLine(opts: Options, cases: Case[]): string {
  const [main, small, large] = cases;
  return main && small && large
    ? `From ${int(small.series)} to ${int(large.series)} series (${large.days} days) a run grows ${fixed(large.pulse.medianMs / small.pulse.medianMs, 1)}× for a fleet ${fixed(large.series / small.series, 0)}× as large; at ${opts.days} days, ${int(large.series)} series would take about ${s2((large.pulse.medianMs * main.pulse.medianMs) / small.pulse.medianMs)} s (the ${int(large.series)}-series time scaled by what ${opts.days} days cost over ${large.days} at ${int(small.series)} series).`
    : '';
}

/** The regression section of bench/RESULTS.md. */
function markdownOf(opts: Options, pgVersion: string, cases: Case[], t: Tables): string {
  return [
    '## Regression detection',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), PostgreSQL ${pgVersion}, Node ${process.version}; \`npm run bench:regression\`${process.argv.length > 2 ? ` \`${process.argv.slice(2).join(' ')}\`` : ''}.`,
    '',
    `The fleet: ${opts.metrics} metric names × hosts, one point per series per minute for ${opts.days} days (a daily cycle of ±20 %, ±15 % noise; the load-driven metrics at ${WEEKEND_LEVEL} of weekday load on Saturdays and Sundays), three series with a planted step 12 h before the end (×1.4 twice, a throughput ×0.6); the data ends on a Wednesday at 18:00 UTC, so the week's baseline holds a weekend. The scale rows repeat the case over ${opts.scaleDays} days (a one-day baseline) for ${int(opts.series)} and ${int(opts.scaleSeries)} series; there the plan's SQL runs once. "pulse run" is the whole regression job (every metric and every series of a metric with several; report stored) in the benchmark process, median of ${opts.runs} after one untimed; "plan's SQL" is the plan's regression query (averages and p95 per metric, no series level, no seasonality) over the raw points of the same windows, median of ${opts.sqlRuns}.`,
    '',
    markdownTable(t.header, t.rows, t.right),
    '',
    markdownTable(['goal', 'target', 'measured', ''], t.goalRows),
    '',
    growthLine(opts, cases),
  ].join('\n');
}

/** bench/results/regression.json (figures to 2 decimals) and the section of bench/RESULTS.md. */
export async function writeResults(
  opts: Options,
  pgVersion: string,
  cases: Case[],
  goals: RegressionGoal[],
  t: Tables,
): Promise<void> {
  const report = {
    date: new Date().toISOString(),
    options: {
      ...opts,
      databaseUrl: redactUrl(opts.databaseUrl),
      redisUrl: redactUrl(opts.redisUrl),
    },
    cases,
    goals,
  };
  const markdown = markdownOf(opts, pgVersion, cases, t);
  await writeResultFiles(RESULTS_JSON, 'Regression detection', report, markdown, (_k, v) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 100) / 100 : v,
  );
  progress(`results: ${path.relative(ROOT, RESULTS_JSON)} and ${path.relative(ROOT, RESULTS_MD)}`);
}
