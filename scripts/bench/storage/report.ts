// The storage benchmark's report: its goals, its tables (stdout and the Storage section of
// bench/RESULTS.md) and bench/results/storage.json.
import path from 'node:path';
import {
  fixed,
  type Goal,
  int,
  machineInfo,
  markdownTable,
  printTables,
  ROOT,
  writeResultFiles,
} from '../report.js';
import { MODE_TEXT, type Mode } from './fill.js';
import type { ModeFigures, Scan } from './measure.js';

const RESULTS_JSON = path.join(ROOT, 'bench', 'results', 'storage.json');
export const GOALS = { packedBytesPerPoint: 10, scanRatio: 1 };

export interface Options {
  series: number;
  days: number;
  metrics: number;
  runs: number;
  modes: Mode[];
  seed: number;
  databaseUrl: string;
  redisUrl: string;
  failOnGoal: boolean;
}

const perPoint = (bytes: number, points: number) => (points > 0 ? bytes / points : NaN);
const ratio = (m: ModeFigures, s: Scan) => m.after[s] / m.before[s];

export function goalsOf(modes: ModeFigures[]): Goal[] {
  const goals: Goal[] = [];
  const tick = modes.find((m) => m.mode === 'tick');
  if (tick) {
    const b = perPoint(tick.packedBytes, tick.packedPoints);
    goals.push({
      name: 'bytes per packed point, every series at the tick’s instant',
      target: `≤ ${GOALS.packedBytesPerPoint}`,
      actual: fixed(b, 2),
      pass: b <= GOALS.packedBytesPerPoint,
    });
    // The raw scan is the goal; the plan's summary (whose time is its percentile sort) and the
    // one-series read are reported in the table.
    const r = ratio(tick, 'view');
    goals.push({
      name: '24 h scan (count, sum) through performance_metrics_ts, packed ÷ raw',
      target: `≤ ${fixed(GOALS.scanRatio, 2)}`,
      actual: fixed(r, 2),
      pass: r <= GOALS.scanRatio,
    });
  }
  for (const m of modes)
    goals.push({
      name: `same answers over the 24 h before and after packing (${m.mode})`,
      target: 'equal',
      actual: m.sameAnswers ? 'equal' : 'different',
      pass: m.sameAnswers,
    });
  return goals;
}

export interface Table {
  header: string[];
  rows: string[][];
  right: number[];
}

export function tablesOf(modes: ModeFigures[], goals: Goal[]): Table[] {
  const ms = (x: number) => fixed(x, x < 10 ? 2 : 0);
  const scanCell = (m: ModeFigures, s: Scan) =>
    `${ms(m.before[s])} → ${ms(m.after[s])} (${fixed(ratio(m, s), 2)})`;
  return [
    {
      header: ['Goal', 'Measured', 'Target', 'Result'],
      rows: goals.map((g) => [g.name, g.actual, g.target, g.pass ? 'pass' : 'FAIL']),
      right: [1],
    },
    {
      header: [
        'Timestamps',
        'Points packed',
        'Raw B/point',
        'Packed B/point',
        'Packed rows',
        'Series sets',
        'Packing, points/s',
        '24 h view scan, ms',
        '24 h plan’s summary, ms',
        '24 h of one series, ms',
      ],
      rows: modes.map((m) => [
        m.mode,
        int(m.packedPoints),
        fixed(perPoint(m.rawBytes, m.packedPoints), 1),
        fixed(perPoint(m.packedBytes, m.packedPoints), 2),
        int(m.packedRows),
        int(m.sets),
        int(m.packedPoints / (m.packMs / 1_000)),
        scanCell(m, 'view'),
        scanCell(m, 'plan'),
        scanCell(m, 'series'),
      ]),
      right: [1, 2, 3, 4, 5, 6],
    },
  ];
}

export function printReport(tables: Table[]): void {
  printTables(tables);
}

export async function writeResults(
  opts: Options,
  pgVersion: string,
  modes: ModeFigures[],
  goals: Goal[],
  tables: Table[],
  reduced: string[],
): Promise<void> {
  const machine = machineInfo({ postgres: pgVersion });
  const date = new Date().toISOString();
  const md = (t: Table) => markdownTable(t.header, t.rows, t.right);
  const markdown = [
    '## Storage',
    '',
    '`npm run bench:storage` — a week of raw points written by binary COPY, then the closed days',
    'packed by the maintenance job’s own code (`packDays`), in three ways of sharing timestamps;',
    'bytes per point before and after, and the same 24 h scans through `performance_metrics_ts`',
    'on the raw and on the packed days.',
    '',
    `Run of ${date}: ${int(opts.series)} series (${opts.metrics} metrics) × ${opts.days} days at one point per series per minute on ${machine.cpu} (${machine.cores} cores), Node ${machine.node}, PostgreSQL ${pgVersion}.`,
    ...(reduced.length > 0 ? ['', `> Not the default size: ${reduced.join('; ')}.`] : []),
    '',
    ...tables.flatMap((t) => [md(t), '']),
    'Timestamps: ' + modes.map((m) => `*${m.mode}*: ${MODE_TEXT[m.mode]}`).join('; ') + '.',
    '*Raw B/point*: the day partitions of `points` with their primary key, before packing;',
    '*packed B/point*: the `points_packed` partitions with their TOAST and BRIN index, and the',
    'series sets. Scans: median of ' +
      `${opts.runs} runs, raw → packed (ratio): the whole of yesterday (raw) and the whole day four`,
    'days back (packed), the same number of points, run in turns (raw, packed, raw …) after one',
    'untimed run of each, so outside load falls on both alike; *one series* reads `points_all`',
    'for one series id. The answers over 24 h of packed days (06:00 four days back to 06:00 three',
    'days back; count, exact sum, min, max and p95 per metric) before and after packing are',
    'compared in full.',
    '',
  ].join('\n');
  const report = {
    benchmark: 'storage',
    date,
    machine,
    options: { ...opts, databaseUrl: undefined, redisUrl: undefined },
    reducedSize: reduced,
    modes,
    goals: Object.fromEntries(
      goals.map((g) => [g.name, { target: g.target, actual: g.actual, pass: g.pass }]),
    ),
    pass: goals.every((g) => g.pass),
  };
  const round = (_key: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1_000) / 1_000 : v;
  await writeResultFiles(RESULTS_JSON, 'Storage', report, markdown, round);
}
