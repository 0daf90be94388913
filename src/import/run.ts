// Imports one file of history: rows read where they lie and validated by the ingest rules (a
// timestamp is required), gathered into batches written with a few transactions in flight;
// rollup_1h is built for the closed hours imported (as the writes leave them behind, and the
// rest at the end). See scripts/import.ts for the command line.
import type { Readable } from 'node:stream';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { aggregateAll } from '../jobs/aggregate.js';
import { BulkWriter, type PointWriter } from '../metrics/bulk-writer.js';
import { HourRollups } from '../metrics/hour-rollups.js';
import { compactMetricRollups } from '../metrics/metric-rollup-upkeep.js';
import type { SeriesRegistry } from '../metrics/series-registry.js';
import { PointStore } from '../metrics/store.js';
import { StoredPoints } from '../metrics/stored-points.js';
import { ImportBatch, type Lines } from './batch.js';
import { RowChecker } from './check.js';
import { CsvReader } from './csv-reader.js';
import { bytesOf, ImportError, openInput, type Format, type Input } from './input.js';
import { ImportLimits } from './limits.js';
import { NdjsonReader } from './ndjson-reader.js';
import { count, Progress, type Output, type Stats } from './progress.js';
import { Rejections, type RejectedRow } from './rejections.js';

export const DEFAULT_BATCH = 100_000;
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
  /** Closed hours whose rollup_1h (and regression slots) the import built. */
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

interface Reading {
  source: Input;
  stats: Stats;
  progress: Progress;
  rejections: Rejections;
  batch: ImportBatch;
}

/** Reads every row into batches; true when a signal stopped it before the end. */
async function readAll(opts: ImportOptions, r: Reading): Promise<boolean> {
  const checker = new RowChecker(opts.acceptMs);
  const reader =
    r.source.format === 'csv' ? new CsvReader(checker, r.source.name) : new NdjsonReader(checker);
  let interrupted = false;
  r.progress.start();
  try {
    for await (const bytes of bytesOf(r.source, r.stats)) {
      checker.now = Date.now();
      reader.feed(bytes);
      while (reader.read(r.batch)) await r.batch.submit();
      if (opts.signal?.aborted) {
        interrupted = true;
        break;
      }
    }
    if (!interrupted) {
      reader.finish();
      while (reader.read(r.batch)) await r.batch.submit();
    }
    await r.batch.submit();
    await r.batch.settle();
  } finally {
    r.progress.stop();
    // After a fatal error too: no write may still be running when the caller closes the pool.
    await r.batch.drain();
    if (!r.source.stream.destroyed && r.source.stream !== process.stdin) r.source.stream.destroy();
  }
  return interrupted;
}

/**
 * rollup_1h and the regression slots of the closed hours imported: from the import's own
 * minutes where an hour holds nothing else, else by the aggregate job (which also compacts the
 * metric-level rollups). Returns the hours built.
 */
async function buildHours(opts: ImportOptions, writer: BulkWriter<Lines>): Promise<number> {
  try {
    const fromWrites = await writer.finish();
    return fromWrites.hours + (await aggregateAll({ db: opts.db, log: opts.log })).hours;
  } catch (err) {
    throw new ImportError(
      `the rows are stored, but building rollup_1h failed: ${(err as Error).message} ` +
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
  const writer = new BulkWriter<Lines>({
    store: opts.store ?? new PointStore(opts.db),
    stored: new StoredPoints(opts.db),
    hours: new HourRollups(opts.db),
    onDone: (done) => {
      stats.imported += done.inserted;
      stats.duplicates += done.points - done.inserted;
    },
    // Partial metric-level rows merged while the next batches are written, not all at the end.
    upkeep: () => compactMetricRollups(opts.db),
  });
  const batch = new ImportBatch({
    db: opts.db,
    writer,
    batchSize,
    stats,
    rejections,
    limits: opts.series === undefined ? undefined : new ImportLimits(opts.series),
  });
  const interrupted = await readAll(opts, { source, stats, progress, rejections, batch });
  rejections.finish();
  const rollupHours = await buildHours(opts, writer);
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
