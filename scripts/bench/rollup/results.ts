// What a rollup benchmark run reports: the machine, the notes on a reduced size, and the results
// files (bench/results/rollup.json and the Rollups section of bench/RESULTS.md).
import path from 'node:path';
import { ENTRY_POINTS } from '../../../src/metrics/buffer.js';
import { baselineJson } from '../baseline.js';
import { COPY_ROWS_PER_CHUNK, type CopyStageFigures } from '../copy-stage.js';
import { NOISE_CORES } from '../cpu.js';
import {
  fixed,
  type Goal,
  int,
  machineInfo,
  markdownTable,
  ROOT,
  writeResultFiles,
} from '../report.js';
import type { AccuracyFigures } from './accuracy.js';
import type { FlushFigures } from './flush.js';
import { pct, ROLLUPS_OFF } from './goals.js';
import type { HourFigures } from './hour.js';
import type { MinuteFigures } from './minute.js';
import type { Options } from './options.js';
import type { Table, TitledTable } from './tables.js';

export const RESULTS_JSON = path.join(ROOT, 'bench', 'results', 'rollup.json');

/** The machine a run measured on (report.ts's machineInfo). */
export type Machine = ReturnType<typeof machineInfo>;

export function machineOf(pgVersion: string, redisVersion: string): Machine {
  return machineInfo({ postgres: pgVersion, redis: redisVersion });
}

/** What differs from the default size, one note per option. */
export function reducedSize(opts: Options): string[] {
  const reduced: string[] = [];
  if (opts.days !== 7) reduced.push(`rollup_1h built for ${opts.days} days, not 7 (--days)`);
  if (opts.series !== 1_000) reduced.push(`${opts.series} series, not 1,000 (--series)`);
  if (opts.largeRows !== 10_000_000)
    reduced.push(`large history of ${int(opts.largeRows)} rows, not 10,000,000 (--large-rows)`);
  if (opts.smallRows !== 100_000)
    reduced.push(`small history of ${int(opts.smallRows)} rows, not 100,000 (--small-rows)`);
  if (opts.points !== 1_000_000)
    reduced.push(`flush of ${int(opts.points)} points, not 1,000,000 (--points)`);
  return reduced;
}

export const noiseNoteOf = (noisy: string[]) =>
  `Processes outside the benchmark used more than ${NOISE_CORES} cores during: ${noisy.join(', ')}. The machine was not quiet, so those figures may be off; run again.`;
export const reducedNoteOf = (reduced: string[]) => `Not the default size: ${reduced.join('; ')}.`;

/** A run's figures when every stage ran. */
export interface AllFigures {
  baseline: CopyStageFigures;
  flush: FlushFigures;
  minute: MinuteFigures;
  hour: HourFigures;
  accuracy: AccuracyFigures;
}

/** What the run says about itself besides the figures. */
export interface RunSummary {
  date: string;
  machine: Machine;
  series: number;
  opts: Options;
  reduced: string[];
  noisy: string[];
  goals: Goal[];
  pass: boolean;
  tables: { main: Table; details: TitledTable[] };
}

function setupJson(fl: FlushFigures) {
  return {
    flushConcurrency: fl.concurrency,
    flushReadEntries: fl.readEntries,
    bufferEntryPoints: ENTRY_POINTS,
    copyRowsPerChunk: COPY_ROWS_PER_CHUNK,
    notes: [
      'series: 10 metrics × hosts, each metric with its own value distribution; one point per series per second in the flush and new-minute stages, one per 10 s in the accuracy stage',
      'flush baseline: binary COPY of the same rows into points, as one stream and as 2 parallel streams on 2 connections; the faster counts; a CHECKPOINT runs before each timed run',
      'flush: the real flush handler draining a pre-filled Redis buffer with FLUSH_CONCURRENCY loops, after one untimed warm-up batch; rollup SQL and COMMIT times are measured inside PointStore.write through a timing wrapper around its connections',
      `flush with rollups disabled: ${ROLLUPS_OFF}`,
      'new minute: history stored by binary COPY into points and INSERT … SELECT … GROUP BY minute into rollup_1m (empty sketches), then VACUUM ANALYZE; one untimed warm-up minute, then fresh minutes each written by PointStore.write in flush-sized batches, sequentially; a CHECKPOINT before each minute',
      'rollup_1h: rollup_1m rows made by SQL (generate_series × series) with DDSketch sketches built by sketch.add from 60 values each; VACUUM ANALYZE, every hour marked dirty, then aggregate() until no hour is left',
      'accuracy: data written through PointStore.write, rollup_1h built by aggregate() for closed hours; summary() per metric and trend() per sampled series (tag filter) compared with percentile_disc over the raw points of the same range and bucket',
      'cpu: average cores used during the timed part, by process group; "postgres" is the server working for the bench database (backends of other databases count as "other"); "other" is everything else on the machine',
    ],
  };
}

function flushJson(b: CopyStageFigures, fl: FlushFigures) {
  return {
    baseline: baselineJson(b),
    // The figure records as measured: units in the key names (…Ms in milliseconds).
    withRollups: fl,
    withoutRollups: { measured: false, reason: ROLLUPS_OFF },
  };
}

function stagesJson(f: AllFigures, reps: number) {
  const { minute: mi, hour: h, accuracy: a } = f;
  return {
    flush: flushJson(f.baseline, f.flush),
    newMinute: {
      pointsPerMinute: mi.pointsPerMinute,
      writesPerMinute: mi.writesPerMinute,
      repetitions: reps,
      small: mi.small,
      large: mi.large,
      ratioLargeToSmall: mi.ratio,
      jsAggregateMsPerMinute: mi.jsAggregateMs,
    },
    rollup1h: h,
    accuracy: {
      series: a.series,
      sampleSeries: a.sampleSeries,
      points: a.points,
      writeSeconds: a.writeMs / 1_000,
      rollup1hHoursBuilt: a.aggregateHours,
      errorsInPercent: true,
      groups: a.groups,
      all: a.all,
      worst: a.worst,
      countMismatches: a.countMismatches,
    },
  };
}

function reportJson(run: RunSummary, f: AllFigures): Record<string, unknown> {
  const { opts, goals } = run;
  return {
    benchmark: 'rollup',
    date: run.date,
    machine: run.machine,
    series: run.series,
    seed: opts.seed,
    options: {
      points: opts.points,
      smallRows: opts.smallRows,
      largeRows: opts.largeRows,
      reps: opts.reps,
      days: opts.days,
      accuracySeries: opts.accuracySeries,
      sampleSeries: opts.sampleSeries,
    },
    reducedSize: run.reduced,
    setup: setupJson(f.flush),
    noisy: run.noisy,
    results: stagesJson(f, opts.reps),
    goals: Object.fromEntries(
      goals.map((g) => [g.name, { target: g.target, actual: g.actual, pass: g.pass }]),
    ),
    pass: run.pass,
  };
}

const md = (x: Table) => markdownTable(x.header, x.rows, x.right);

function resultsMarkdown(run: RunSummary, f: AllFigures): string {
  const { date, machine, reduced, noisy, opts } = run;
  const { flush: fl, minute: mi, accuracy: a } = f;
  const t = run.tables;
  const reducedNote = reducedNoteOf(reduced);
  const noiseNote = noiseNoteOf(noisy);
  return [
    '## Rollups',
    '',
    '`npm run bench:rollup` — the flush with its rollup_1m update against raw COPY of the same rows;',
    'one new minute with a large history stored against the same minute with a small one; building',
    'rollup_1h for a week; sketch percentiles against `percentile_disc` over the raw rows.',
    '',
    `Run of ${date}: ${int(run.series)} series on ${machine.cpu} (${machine.cores} cores), Node ${machine.node},`,
    `PostgreSQL ${machine.postgres}, Redis ${machine.redis}.`,
    ...(reduced.length > 0 ? ['', `> ${reducedNote}`] : []),
    '',
    md(t.main),
    '',
    `Flush with rollups disabled: ${ROLLUPS_OFF}.`,
    '',
    ...t.details.flatMap((x) => [md(x), '']),
    ...(a.worst
      ? [
          `Largest error: ${a.worst.query}() over ${a.worst.range}, \`${a.worst.key}\`, ${a.worst.quantile}: ${a.worst.estimate} against exact ${a.worst.exact} (${pct(a.worst.errorPct)}).`,
          '',
        ]
      : []),
    ...(noisy.length > 0 ? [`> ${noiseNote}`, ''] : []),
    'What each measure is: *flush* is the real flush handler (read, decode, series ids, binary COPY,',
    `rollup_1m append and dirty-hour mark, commit, ack) draining a pre-filled Redis buffer with ${fl.concurrency} loops`,
    'in the benchmark process; its baseline is binary COPY of the same rows into `points`, the faster',
    'of one stream and two parallel streams. *One new minute* is one point per series per second',
    `for a minute, written through \`PointStore.write\` in ${mi.writesPerMinute} flush-sized transactions; the median of`,
    `${opts.reps} fresh minutes (after a warm-up minute), with the history stored by binary COPY and its`,
    'rollup_1m rows by SQL. *Rollup SQL* is the time inside the rollup_1m append and dirty-hour',
    `mark statements; the JavaScript per-minute aggregation adds ≈ ${fixed(mi.jsAggregateMs, 0)} ms per minute (timed apart).`,
    '*Build rollup_1h* runs the aggregate job over SQL-generated rollup_1m rows whose sketches are',
    'built by the real sketch code, every hour dirty. *Percentile error* compares `summary()` (per',
    'metric, all series merged) and `trend()` (per sampled series, by tag) over data written',
    `through \`PointStore.write\` (${int(a.series)} series, one point per 10 s) with \`percentile_disc\` over the same`,
    'raw points: whole clean hours come from rollup_1h, range edges and the open hour from rollup_1m.',
    '*CPU* is the average cores used during each timed stage: *postgres* is the server working for the',
    'bench database (with its shared background processes), *other* everything else on the machine,',
    "other databases' backends on the same server included.",
    '',
  ].join('\n');
}

/** Writes bench/results/rollup.json and the Rollups section of bench/RESULTS.md. */
export async function writeResults(run: RunSummary, f: AllFigures): Promise<void> {
  // Three decimals are plenty for seconds, rates, ratios and percentages.
  // Errors and the values they compare keep every digit: they sit close to the 1 % bound.
  const exact = new Set(['max', 'median', 'errorPct', 'exact', 'estimate']);
  const round = (key: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) && Number.isFinite(v) && !exact.has(key)
      ? Math.round(v * 1_000) / 1_000
      : v;
  await writeResultFiles(
    RESULTS_JSON,
    'Rollups',
    reportJson(run, f),
    resultsMarkdown(run, f),
    round,
  );
}
