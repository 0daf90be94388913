// Imports one file of history: rows read and validated by the ingest rules (a timestamp is
// required), gathered into batches written like flushes, then rollup_1h rebuilt once for the
// closed hours imported. See scripts/import.ts for the command line.
import type { Readable } from 'node:stream';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { aggregate } from '../jobs/aggregate.js';
import { validateBatch, type Point } from '../metrics/point.js';
import type { SeriesRegistry } from '../metrics/series-registry.js';
import { PointStore } from '../metrics/store.js';
import { ImportBatch, type PointWriter } from './batch.js';
import { ImportError, openInput, textOf, type Format, type Input } from './input.js';
import { ImportLimits } from './limits.js';
import { count, Progress, type Output, type Stats } from './progress.js';
import { Rejections, type RejectedRow } from './rejections.js';
import { csvRows, ndjsonRows, type FieldIssue, type Row } from './rows.js';

export const DEFAULT_BATCH = 10_000;
export const MAX_BATCH = 100_000;

export interface ImportResult {
  /** The file as named in messages (`<stdin>` for `-`). */
  name: string;
  format: Format;
  rowsRead: number;
  /** Points really inserted by this run. */
  imported: number;
  /** Valid rows whose point was already stored (an earlier run, or twice in this file). */
  duplicates: number;
  rejected: number;
  bytesRead: number;
  elapsedMs: number;
  /** Closed hours whose rollup_1h the aggregate run rebuilt. */
  rollupHours: number;
  /** The first MAX_REPORTED rejected rows, in file order. */
  rejectedRows: RejectedRow[];
  interrupted: boolean;
  exitCode: 0 | 2 | 130;
}

export interface ImportOptions {
  /** A path, or `-` for stdin. */
  file: string;
  /** ndjson or csv; by default from the extension (.ndjson, .jsonl, .csv). */
  format?: string;
  batchSize?: number;
  db: Db;
  log: Logger;
  acceptMs: number;
  /** Read for `-` (default process.stdin). */
  stdin?: Readable;
  /** Rejected rows and progress (default process.stderr). */
  stderr?: Output;
  /** auto: a bar when stderr is a TTY, else a line every progressEveryMs. */
  progress?: 'auto' | 'none';
  progressEveryMs?: number;
  store?: PointWriter;
  /** Aborting stops reading; the rows read so far are written, then the import ends (130). */
  signal?: AbortSignal;
  /**
   * MAX_SERIES and MAX_SERIES_PER_METRIC, as ingest enforces them: a row that would create a
   * series past a limit is rejected (field metric_name). None without.
   */
  series?: SeriesRegistry;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const MISSING_TIMESTAMP: FieldIssue = {
  field: 'timestamp',
  reason: 'is required in an import (a point without one would be stored again by every run)',
};

/** A row's point by the ingest rules, or every problem found with it. */
function checkRow(row: Row, now: number, acceptMs: number): { point: Point } | FieldIssue[] {
  let errors = row.errors;
  let point: Point | undefined;
  if (row.point !== undefined) {
    const checked = validateBatch({ points: [row.point] }, { now, maxPoints: 1, acceptMs });
    if (checked.ok) point = checked.points[0];
    else {
      errors = [...(errors ?? [])];
      for (const e of checked.errors) errors.push({ field: e.field, reason: e.reason });
    }
  }
  if (isPlainObject(row.point) && row.point.timestamp === undefined)
    errors = [...(errors ?? []), MISSING_TIMESTAMP];
  if (errors !== undefined || point === undefined) return errors ?? [];
  return { point };
}

interface Reading {
  source: Input;
  stats: Stats;
  progress: Progress;
  rejections: Rejections;
  batch: ImportBatch;
}

/** Reads every row into batches; true when a signal stopped it before the end. */
async function readAll(opts: ImportOptions, r: Reading): Promise<boolean> {
  const text = textOf(r.source, r.stats);
  const rows = r.source.format === 'csv' ? csvRows(text, r.source.name) : ndjsonRows(text);
  let interrupted = false;
  r.progress.start();
  try {
    for await (const chunk of rows) {
      const now = Date.now();
      for (const row of chunk) {
        r.stats.rowsRead += 1;
        const checked = checkRow(row, now, opts.acceptMs);
        if (Array.isArray(checked)) r.rejections.reject(row.line, checked);
        else if (r.batch.add(checked.point, row.line)) await r.batch.submit();
      }
      if (opts.signal?.aborted) {
        interrupted = true;
        break;
      }
    }
    await r.batch.submit();
    await r.batch.settle();
  } finally {
    r.progress.stop();
    // A fatal error leaves a write running: let it end before the caller closes the pool.
    await r.batch.drain();
    if (!r.source.stream.destroyed && r.source.stream !== process.stdin) r.source.stream.destroy();
  }
  return interrupted;
}

/** The aggregate job once, so rollup_1h covers the closed hours imported. */
async function rebuildHours(opts: ImportOptions): Promise<number> {
  try {
    return (await aggregate({ db: opts.db, log: opts.log }, { reason: 'manual' })).hours;
  } catch (err) {
    throw new ImportError(
      `the rows are stored, but rebuilding rollup_1h failed: ${(err as Error).message} ` +
        '(the aggregate job will do it on its next run)',
      { cause: err },
    );
  }
}

/** Imports one file; resolves with the counts, or rejects with an ImportError (fatal). */
export async function runImport(opts: ImportOptions, input?: Input): Promise<ImportResult> {
  const started = Date.now();
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH)
    throw new ImportError(`--batch must be a whole number from 1 to ${count(MAX_BATCH)}`);
  const source = input ?? (await openInput(opts.file, opts.format, opts.stdin));
  const out = opts.stderr ?? process.stderr;
  const stats: Stats = { rowsRead: 0, imported: 0, duplicates: 0, rejected: 0, bytesRead: 0 };
  const mode = opts.progress === 'none' ? 'none' : out.isTTY ? 'bar' : 'lines';
  const everyMs = opts.progressEveryMs ?? 5_000;
  const progress = new Progress(out, mode, everyMs, source.size, stats, started);
  const rejections = new Rejections(stats, out, progress, source.name);
  const batch = new ImportBatch({
    db: opts.db,
    store: opts.store ?? new PointStore(opts.db),
    batchSize,
    stats,
    rejections,
    limits: opts.series === undefined ? undefined : new ImportLimits(opts.series),
  });
  const interrupted = await readAll(opts, { source, stats, progress, rejections, batch });
  rejections.finish();
  const rollupHours = await rebuildHours(opts);
  return {
    name: source.name,
    format: source.format,
    ...stats,
    elapsedMs: Date.now() - started,
    rollupHours,
    rejectedRows: rejections.rows,
    interrupted,
    exitCode: interrupted ? 130 : stats.rejected > 0 ? 2 : 0,
  };
}

/** The final line: rows read, imported, already stored, rejected, elapsed. */
export function summaryLine(r: ImportResult): string {
  const seconds = r.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(r.rowsRead / seconds) : r.rowsRead;
  let line =
    `import ${r.name}: ${count(r.rowsRead)} rows read, ${count(r.imported)} imported, ` +
    `${count(r.duplicates)} already stored (duplicates), ${count(r.rejected)} rejected, ` +
    `in ${seconds.toFixed(1)} s (${count(rate)} rows/s)`;
  if (r.interrupted)
    line += '; INTERRUPTED before the end of the file: run it again to import the rest';
  else if (r.rejected > 0)
    line += `; ${count(r.rejected)} rows were rejected (see stderr): exit code 2`;
  return line;
}
