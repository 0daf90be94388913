// The rollup benchmark's tables: the main one (each measure against its baseline and goal) and
// one per stage, with the CPU each timed stage used.
import { BASELINE_LABEL, BASELINE_TEXT, type BaselineKind } from '../baseline.js';
import { type Cores, type CpuGroup } from '../cpu.js';
import { ENTRY_POINTS } from '../../../src/metrics/buffer.js';
import { fixed, type Goal, int } from '../report.js';
import type { ErrorStats } from './accuracy.js';
import { seconds } from './context.js';
import { type Figures, GOALS, pct, waitText } from './goals.js';
import type { MinuteCase } from './minute.js';

export interface Table {
  header: string[];
  right: number[];
  rows: string[][];
}
export interface TitledTable extends Table {
  title: string;
}

function verdictOf(goals: Goal[], name: string): string {
  const g = goals.find((x) => x.name === name);
  return g ? (g.pass ? 'pass' : 'FAIL') : '—';
}

/** One row per measure: its value, the baseline of the same run, the ratio, the goal. */
function mainTable(f: Figures, goals: Goal[], series: number): Table {
  const verdict = (name: string) => verdictOf(goals, name);
  const main: string[][] = [];
  if (f.flush && f.baseline) {
    main.push([
      `Flush with rollup_1m (Redis → PG, ${f.flush.concurrency} concurrent)`,
      `${int(f.flush.pointsPerSec)} points/s`,
      `raw COPY (${BASELINE_TEXT[f.baseline.used]}): ${int(f.baseline.rowsPerSec)} rows/s`,
      fixed(f.flush.ratio, 2),
      `≥ ${fixed(GOALS.flushRatio, 2)}`,
      verdict('flush with rollup_1m / raw COPY'),
    ]);
    main.push(['Flush with rollups disabled', 'not measurable', '—', '—', '—', '—']);
  }
  if (f.minute) {
    const m = f.minute;
    main.push([
      `One new minute (${int(m.pointsPerMinute)} points), ${int(m.large.historyRows)} rows stored`,
      `${fixed(m.large.medianMs, 0)} ms`,
      `${int(m.small.historyRows)} rows stored: ${fixed(m.small.medianMs, 0)} ms`,
      fixed(m.ratio, 2),
      `≤ ${fixed(GOALS.minuteRatio, 2)}`,
      verdict('new minute, large history / small history'),
    ]);
  }
  if (f.hour) {
    const h = f.hour;
    main.push([
      `Build rollup_1h: ${h.days} d × ${int(series)} series (${int(h.rollup1mRows)} rollup_1m rows)`,
      `${fixed(h.ms / 1_000, 1)} s, ${int(h.rowsPerSec)} rows/s`,
      '—',
      '—',
      '—',
      'info',
    ]);
  }
  if (f.accuracy) {
    const a = f.accuracy;
    main.push([
      `p95/p99 relative error, summary() + trend() (${int(a.all.comparisons)} × 2)`,
      `max ${pct(a.all.max)}, median ${pct(a.all.median)}`,
      'percentile_disc over the raw rows',
      '—',
      `max ≤ ${GOALS.maxErrorPct} %`,
      verdict('p95/p99 max relative error'),
    ]);
  }
  return {
    header: ['Measure', 'Value', 'Baseline (same run)', 'Ratio', 'Goal', 'Result'],
    right: [3],
    rows: main,
  };
}

/** The flush against both COPY runs; where the flush spends its time. */
function flushTables(f: Figures, goals: Goal[]): TitledTable[] {
  const verdict = (name: string) => verdictOf(goals, name);
  const out: TitledTable[] = [];
  if (f.flush && f.baseline) {
    const b = f.baseline;
    const fl = f.flush;
    const copyRow = (kind: BaselineKind) => [
      BASELINE_LABEL[kind],
      int(fl.points),
      seconds(b[kind].ms),
      int(b[kind].rowsPerSec),
      fixed(b[kind].rowsPerSec / b.rowsPerSec, 2),
      '—',
      kind === b.used ? 'baseline' : '—',
    ];
    const share = (ms: number) => `${int((100 * ms) / fl.writeMs)}%`;
    const loopShare = (ms: number) => `${int((100 * ms) / fl.loopMs)}%`;
    out.push({
      title: 'Flush',
      header: ['Stage', 'Points', 'Time (s)', 'Points/s', 'vs COPY', 'Goal', 'Result'],
      right: [1, 2, 3, 4],
      rows: [
        copyRow('single'),
        copyRow('parallel'),
        [
          `Flush with rollup_1m (${fl.concurrency} concurrent)`,
          int(fl.points),
          seconds(fl.ms),
          int(fl.pointsPerSec),
          fixed(fl.ratio, 2),
          `≥ ${fixed(GOALS.flushRatio, 2)}`,
          verdict('flush with rollup_1m / raw COPY'),
        ],
        ['Flush with rollups disabled', '—', '—', '—', '—', '—', 'n/a'],
      ],
    });
    out.push({
      title: 'Flush detail',
      header: ['Flush detail', 'Value'],
      right: [],
      rows: [
        [
          'Loop time inside read / write / ack (overlapping)',
          `${loopShare(fl.readMs)} / ${loopShare(fl.writeMs)} / ${loopShare(fl.ackMs)}`,
        ],
        [
          'Write time inside rollup_1m append + dirty mark / COMMIT',
          `${share(fl.rollupSqlMs)} / ${share(fl.commitMs)}`,
        ],
        ['Active flush connections waiting, by wait event (sampled)', waitText(fl)],
        [
          'Transactions (points each at most), rollup_1m rows written',
          `${int(fl.batches)} (${int(fl.readEntries * ENTRY_POINTS)}), ${int(fl.rollupRows)} rows`,
        ],
      ],
    });
  }
  return out;
}

/** The new minute with each history. */
function minuteTables(f: Figures, goals: Goal[]): TitledTable[] {
  const verdict = (name: string) => verdictOf(goals, name);
  const out: TitledTable[] = [];
  if (f.minute) {
    const m = f.minute;
    const row = (c: MinuteCase) => [
      `${int(c.historyRows)} rows stored`,
      int(c.historyRollupRows),
      fixed(c.medianMs, 0),
      `${fixed(Math.min(...c.minuteMs), 0)} – ${fixed(Math.max(...c.minuteMs), 0)}`,
      fixed(c.medianRollupSqlMs, 0),
      fixed(c.medianCommitMs, 0),
      fixed(c.medianMs / m.small.medianMs, 2),
      c.label === 'large' ? `≤ ${fixed(GOALS.minuteRatio, 2)}` : '—',
      c.label === 'large' ? verdict('new minute, large history / small history') : 'baseline',
    ];
    out.push({
      title: 'New minute',
      header: [
        `New minute (${int(m.pointsPerMinute)} points, ${m.writesPerMinute} writes)`,
        'rollup_1m rows',
        'Median (ms)',
        'Min – max (ms)',
        'Rollup SQL (ms)',
        'COMMIT (ms)',
        'vs small',
        'Goal',
        'Result',
      ],
      right: [1, 2, 3, 4, 5, 6],
      rows: [row(m.small), row(m.large)],
    });
  }
  return out;
}

/** Building rollup_1h. */
function hourTables(f: Figures, series: number): TitledTable[] {
  const out: TitledTable[] = [];
  if (f.hour) {
    const h = f.hour;
    out.push({
      title: 'rollup_1h',
      header: [
        'Build rollup_1h',
        'rollup_1m rows',
        'Size (MB)',
        'Hours',
        'rollup_1h rows',
        'Keys per sketch, 1 min → 1 h',
        'Time (s)',
        'rollup_1m rows/s',
      ],
      right: [1, 2, 3, 4, 5, 6, 7],
      rows: [
        [
          `${h.days} d × ${int(series)} series, all hours dirty`,
          int(h.rollup1mRows),
          int(h.rollup1mMb),
          int(h.hours),
          int(h.rollup1hRows),
          `${fixed(h.keysPerMinuteSketch, 1)} → ${fixed(h.keysPerHourSketch, 1)}`,
          fixed(h.ms / 1_000, 1),
          int(h.rowsPerSec),
        ],
      ],
    });
  }
  return out;
}

/** Percentile errors by query and range. */
function accuracyTables(f: Figures): TitledTable[] {
  const out: TitledTable[] = [];
  if (f.accuracy) {
    const a = f.accuracy;
    const err = (e: ErrorStats) => `${pct(e.max)} / ${pct(e.median)}`;
    out.push({
      title: 'Accuracy',
      header: [
        'Percentiles vs percentile_disc',
        'Range',
        'Buckets',
        'Compared',
        'p95 error max / median',
        'p99 error max / median',
        'Count mismatches',
      ],
      right: [3, 6],
      rows: [
        ...a.groups.map((g) => [
          g.query === 'summary' ? 'summary(), per metric' : 'trend(), per series',
          g.range,
          g.resolution,
          int(g.comparisons),
          err(g.p95),
          err(g.p99),
          int(g.countMismatches),
        ]),
        [
          'All',
          '',
          '',
          int(a.all.comparisons),
          err(a.all.p95),
          err(a.all.p99),
          int(a.countMismatches),
        ],
      ],
    });
  }
  return out;
}

/** Cores used by process group during each timed stage. */
function cpuTables(f: Figures): TitledTable[] {
  const out: TitledTable[] = [];
  // /proc counts CPU in 10 ms ticks: below a second the averages say nothing.
  const groups: CpuGroup[] = ['bench', 'postgres', 'redis', 'other'];
  const cores = (c: Cores, ms: number) => groups.map((g) => (ms < 1_000 ? '—' : fixed(c[g], 2)));
  const cpuRows: string[][] = [];
  if (f.baseline) {
    cpuRows.push([BASELINE_LABEL.single, ...cores(f.baseline.single.cpu, f.baseline.single.ms)]);
    cpuRows.push([
      BASELINE_LABEL.parallel,
      ...cores(f.baseline.parallel.cpu, f.baseline.parallel.ms),
    ]);
  }
  if (f.flush) cpuRows.push(['Flush with rollup_1m', ...cores(f.flush.cpu, f.flush.ms)]);
  if (f.minute) {
    for (const c of [f.minute.small, f.minute.large])
      cpuRows.push([`New minutes, ${int(c.historyRows)} rows stored`, ...cores(c.cpu, c.timedMs)]);
  }
  if (f.hour) cpuRows.push(['Build rollup_1h', ...cores(f.hour.cpu, f.hour.ms)]);
  out.push({
    title: 'CPU',
    header: ['CPU (cores used)', ...groups],
    right: [1, 2, 3, 4],
    rows: cpuRows,
  });
  return out;
}

export function tables(f: Figures, goals: Goal[], series: number) {
  return {
    main: mainTable(f, goals, series),
    details: [
      ...flushTables(f, goals),
      ...minuteTables(f, goals),
      ...hourTables(f, series),
      ...accuracyTables(f),
      ...cpuTables(f),
    ],
  };
}
