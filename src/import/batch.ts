// One import batch at a time: valid rows gathered as columns (series, time, value: what
// PointStore.write takes, with no per-point object), repeats within the batch found, the series
// limits applied, the daily partitions of its days created, then handed to the bulk writer,
// which keeps a few batches in flight while the next is read.
import type { Db } from '../infra/db.js';
import { DAY } from '../infra/time.js';
import type { DecodedEntry } from '../metrics/buffer.js';
import { BatchFailed, type BulkWriter } from '../metrics/bulk-writer.js';
import { sql } from '../metrics/queries.js';
import { refusalReason, type SeriesRefusal } from '../metrics/series-registry.js';
import type { SeriesDef } from '../metrics/series.js';
import type { RowSink } from './check.js';
import { ImportError } from './input.js';
import { ADMIT_AT_ONCE, type Held, type ImportLimits } from './limits.js';
import type { Stats } from './progress.js';
import type { Rejections } from './rejections.js';
import type { FieldIssue } from './rows.js';
import { RepeatWindow } from './repeats.js';

/** Lines of a batch, as the errors about it name them. */
export interface Lines {
  first: number;
  last: number;
}

function utcDay(day: number): string {
  return new Date(day * DAY).toISOString().slice(0, 10);
}

/** Daily partitions for the days imported, so history does not pile up in points_default. */
class DayPartitions {
  private readonly ensured = new Set<number>();

  constructor(private readonly db: Db) {}

  /** Creates the missing partitions of the days from `lo` to `hi` (epoch ms). */
  async ensure(lo: number, hi: number): Promise<void> {
    let first = Infinity;
    let last = -Infinity;
    for (let d = Math.floor(lo / DAY); d <= Math.floor(hi / DAY); d++) {
      if (this.ensured.has(d)) continue;
      if (d < first) first = d;
      last = d;
    }
    if (first > last) return;
    await this.db.one(sql.pointsPartitionsEnsure, [utcDay(first), utcDay(last)]);
    for (let d = first; d <= last; d++) this.ensured.add(d);
  }
}

/**
 * The batch's rows grouped by series, each series' rows in file order (a counting sort): COPY
 * then puts a series' run of rows into neighbouring index and heap pages, and whatever reads a
 * series' range later (a check of a second run, a dashboard) visits a few pages, not one a row.
 */
function bySeries(
  series: SeriesDef[],
  seriesIndex: Uint32Array,
  ts: Float64Array,
  value: Float64Array,
  n: number,
): DecodedEntry {
  const at = new Uint32Array(series.length + 1);
  for (let i = 0; i < n; i++) (at[(seriesIndex[i] as number) + 1] as number) += 1;
  for (let s = 0; s < series.length; s++) at[s + 1] = (at[s + 1] as number) + (at[s] as number);
  const out: DecodedEntry = {
    series,
    seriesIndex: new Uint32Array(n),
    ts: new Float64Array(n),
    value: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const s = seriesIndex[i] as number;
    const j = (at[s] as number)++;
    out.seriesIndex[j] = s;
    out.ts[j] = ts[i] as number;
    out.value[j] = value[i] as number;
  }
  return out;
}

export interface BatchDeps {
  db: Db;
  writer: BulkWriter<Lines>;
  batchSize: number;
  stats: Stats;
  rejections: Rejections;
  limits?: ImportLimits | undefined;
}

export class ImportBatch implements RowSink {
  // Kept rows, in the form PointStore.write takes: the batch's series, and per row the index
  // of its series, its time and value.
  private series: SeriesDef[] = [];
  private readonly seriesIndex: Uint32Array;
  private readonly ts: Float64Array;
  private readonly value: Float64Array;
  private kept = 0;
  /** Rows counted against the batch size: kept, and held for the series limits. */
  private points = 0;
  private firstLine = 0;
  private lastLine = 0;
  private lo = Infinity;
  private hi = -Infinity;
  // Per series of the batch: its repeat window slot, and its index in `series` once kept.
  private slots = new Map<SeriesDef, number>();
  private entryIndex: number[] = [];
  private readonly repeats = new RepeatWindow();
  private readonly days: DayPartitions;

  constructor(private readonly deps: BatchDeps) {
    this.days = new DayPartitions(deps.db);
    this.seriesIndex = new Uint32Array(deps.batchSize);
    this.ts = new Float64Array(deps.batchSize);
    this.value = new Float64Array(deps.batchSize);
  }

  get full(): boolean {
    return this.points >= this.deps.batchSize || (this.deps.limits?.asked ?? 0) >= ADMIT_AT_ONCE;
  }

  add(def: SeriesDef, ts: number, value: number, line: number): void {
    this.deps.stats.rowsRead += 1;
    let slot = this.slots.get(def);
    if (slot === undefined) {
      slot = this.repeats.addSlot();
      this.slots.set(def, slot);
      this.entryIndex.push(-1);
    }
    const earlier = this.repeats.check(slot, ts, line, value);
    if (earlier >= 0) {
      // Same series and millisecond as a row of this batch: the same value is a duplicate
      // (nothing lost), another value is refused as ingest refuses it (one would be lost).
      if (Object.is(this.repeats.valueOf(earlier), value)) this.deps.stats.duplicates += 1;
      else
        this.deps.rejections.reject(line, [
          {
            field: 'timestamp',
            reason: `repeats line ${this.repeats.lineOf(earlier)} with another value: same series and millisecond (a series holds one value per millisecond)`,
          },
        ]);
      return;
    }
    if (this.points === 0) this.firstLine = line;
    this.lastLine = line;
    if (ts < this.lo) this.lo = ts;
    if (ts > this.hi) this.hi = ts;
    this.points += 1;
    const { limits } = this.deps;
    if (limits !== undefined) {
      const verdict = limits.classify(def, ts, value, line);
      if (verdict === 'held') return;
      if (verdict !== 'keep') {
        this.refuseSeries(line, verdict);
        return;
      }
    }
    this.keep(def, slot, ts, value);
  }

  refuse(line: number, issues: FieldIssue[]): void {
    this.deps.stats.rowsRead += 1;
    this.deps.rejections.reject(line, issues);
  }

  /** Ends the batch and hands it to the writer, once it has room for another write. */
  async submit(): Promise<void> {
    await this.deps.limits?.admitHeld(
      this.lastLine,
      (h: Held) => this.keep(h.def, this.slots.get(h.def) as number, h.ts, h.value),
      (line, r) => this.refuseSeries(line, r),
    );
    const n = this.kept;
    const entry = bySeries(this.series, this.seriesIndex, this.ts, this.value, n);
    const lines = { first: this.firstLine, last: this.lastLine };
    const [lo, hi] = [this.lo, this.hi];
    this.reset();
    if (n === 0) return;
    try {
      await this.days.ensure(lo, hi);
    } catch (err) {
      throw new ImportError(
        `creating the daily partitions for lines ${lines.first}-${lines.last} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
    await this.deps.writer.write(entry, lines);
    // A failed write ends the import: stop reading and say which lines.
    if (this.deps.writer.failed) await this.settle();
  }

  /** Lets every write in flight end, failed or not (the caller is ending on an error). */
  drain(): Promise<void> {
    return this.deps.writer.drain();
  }

  /** Waits for every write in flight; a failed one ends the import (ImportError). */
  async settle(): Promise<void> {
    try {
      await this.deps.writer.settle();
    } catch (err) {
      if (!(err instanceof BatchFailed)) throw err;
      const { first } = err.label as Lines;
      throw new ImportError(
        `storing the rows of lines ${first}-${(err.label as Lines).last} failed: ${err.message}. ` +
          `Rows before line ${first} are stored; running the import again skips them`,
        { cause: err.cause },
      );
    }
  }

  private keep(def: SeriesDef, slot: number, ts: number, value: number): void {
    let index = this.entryIndex[slot] as number;
    if (index < 0) {
      index = this.series.length;
      this.series.push(def);
      this.entryIndex[slot] = index;
    }
    const i = this.kept++;
    this.seriesIndex[i] = index;
    this.ts[i] = ts;
    this.value[i] = value;
  }

  private refuseSeries(line: number, r: SeriesRefusal): void {
    this.points -= 1;
    this.deps.rejections.reject(line, [{ field: 'metric_name', reason: refusalReason(r) }]);
  }

  /** A new batch (its write has its own copy of the columns; these are filled again). */
  private reset(): void {
    this.series = [];
    this.kept = 0;
    this.points = 0;
    this.lo = Infinity;
    this.hi = -Infinity;
    this.slots = new Map();
    this.entryIndex = [];
    this.repeats.clear();
  }
}
