// What an import benchmark run writes: bench/results/import.json and the Import section of
// bench/RESULTS.md.
import { WRITES_IN_FLIGHT } from '../../../src/metrics/bulk-writer.js';
import { DEFAULT_BATCH } from '../../../src/import/run.js';
import { baselineJson } from '../baseline.js';
import { COPY_ROWS_PER_CHUNK, type CopyStageFigures } from '../copy-stage.js';
import * as report from '../report.js';
import type { Format } from './files.js';
import { GOALS, goalOf } from './goals.js';
import { reducedNoteOf, type Options } from './options.js';
import type { ImportRun } from './stages.js';
import { NOISE_NOTE, type Tables } from './tables.js';

export const RESULTS_JSON = report.resultsJsonPath('import');

export interface RunSummary extends report.RunHeader {
  opts: Options;
  spanHours: number;
  fileBytes: Record<Format, number>;
  baseline: CopyStageFigures;
  runs: ImportRun[];
  goals: report.Goal[];
  reduced: string[];
  noisy: boolean;
  tables: Tables;
  usedNote: string;
}

function runJson(r: ImportRun) {
  return {
    format: r.format,
    run: r.pass,
    seconds: r.ms / 1_000,
    rowsPerSec: r.rowsPerSec,
    ratioToBaseline: r.ratio,
    cpuCores: r.cpu,
    result: r.result,
    storedAfter: r.counts,
  };
}

function reportJson(run: RunSummary): Record<string, unknown> {
  const { baseline } = run;
  return {
    benchmark: 'import',
    date: run.date,
    machine: run.machine,
    rows: run.opts.rows,
    series: run.series,
    seed: run.opts.seed,
    reducedSize: run.reduced,
    setup: {
      pointIntervalSeconds: run.opts.intervalS,
      spanHours: run.spanHours,
      fileBytes: run.fileBytes,
      batchPoints: DEFAULT_BATCH,
      writesInFlight: WRITES_IN_FLIGHT,
      copyRowsPerChunk: COPY_ROWS_PER_CHUNK,
      notes: [
        'files: the same rows as NDJSON and as CSV (timestamp as ISO-8601 with milliseconds, metric_name, metric_value, tags), written before timing',
        'baseline: binary COPY of the same rows into points (data built before timing), as one stream and as two parallel streams; every ratio uses the faster',
        'import: src/import/run.ts in the benchmark process with the series limits of npm run import (Redis registry), from opening the file until rollup_1h is built; a CHECKPOINT before each timed run',
        'second run: the same file again right after the first; it must store nothing (counts checked)',
        'between formats the points and every rollup are emptied; the series rows stay',
      ],
    },
    noisy: run.noisy,
    results: {
      baseline: baselineJson(baseline),
      imports: run.runs.map(runJson),
    },
    goals: Object.fromEntries(
      run.runs.map((r) => [
        `${r.format}${r.pass === 'second' ? 'Second' : ''}Ratio`,
        { target: GOALS[r.pass], actual: r.ratio, pass: goalOf(r).pass },
      ]),
    ),
    pass: run.goals.every((g) => g.pass),
  };
}

const md = report.tableMarkdown;

function resultsMarkdown(run: RunSummary): string {
  const { date, machine, tables: t } = run;
  return [
    '## Import',
    '',
    '`npm run bench:import` — the same rows as an NDJSON and a CSV file, each imported twice by',
    'the real import (the second run must store nothing), against raw binary COPY of those rows',
    'into `points` in the same run.',
    '',
    `Run of ${date}: ${report.int(run.opts.rows)} rows over ${run.series} series (a point every ${run.opts.intervalS} s, ${report.int(run.spanHours)} hours) on ${machine.cpu}`,
    `(${machine.cores} cores), Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}.`,
    ...(run.reduced.length > 0 ? ['', `> ${reducedNoteOf(run.reduced)}`] : []),
    '',
    ...report.stagesMarkdown(t.stage, run.usedNote, t.detail),
    'CPU: average cores used during each timed stage; *bench* is the benchmark process, which runs',
    'the import; *other* is every process outside the benchmark (noise on a shared machine).',
    '',
    md(t.cpu),
    '',
    ...(run.noisy ? [`> ${NOISE_NOTE}`, ''] : []),
    'What each stage measures: *raw COPY* is PostgreSQL alone taking the prepared binary rows, once',
    'as one COPY stream and once split over two parallel streams; every ratio uses the faster. An',
    '*import* is `runImport` (what `npm run import` runs) from opening the file until every row is',
    'stored, rolled up into rollup_1m, rollup_1h and the metric-level rollups, with the series',
    'limits checked in Redis; its *second run* reads the same file again and must store nothing.',
    '',
  ].join('\n');
}

/** Writes bench/results/import.json and the Import section of bench/RESULTS.md. */
export async function writeResults(run: RunSummary): Promise<void> {
  const round = (_key: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1_000) / 1_000 : v;
  await report.writeResultFiles(
    RESULTS_JSON,
    'Import',
    reportJson(run),
    resultsMarkdown(run),
    round,
  );
}
