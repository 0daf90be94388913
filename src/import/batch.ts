// One import batch at a time: valid points gathered as buffer entries (what a flush writes),
// repeats within the batch found, the series limits applied, the daily partitions of its days
// created, and its write started while the next batch is parsed (never more than one in flight).
import type { Db } from '../infra/db.js';
import { DAY } from '../infra/time.js';
import {
  decodeEntry,
  encodeEntry,
  ENTRY_POINTS,
  type DecodedEntry,
  type EncodedEntry,
} from '../metrics/buffer.js';
import type { Point } from '../metrics/point.js';
import { sql } from '../metrics/queries.js';
import { refusalReason, type SeriesRefusal } from '../metrics/series-registry.js';
import type { WriteResult } from '../metrics/store.js';
import { ImportError } from './input.js';
import { ADMIT_AT_ONCE, type ImportLimits } from './limits.js';
import type { Stats } from './progress.js';
import type { Rejections } from './rejections.js';
import { RepeatWindow } from './repeats.js';

/** What runImport needs of PointStore (a test can hand in a slow one). */
export interface PointWriter {
  write(entries: DecodedEntry[]): Promise<WriteResult>;
}

interface InFlight {
  firstLine: number;
  lastLine: number;
  outcome: Promise<{ ok: true; result: WriteResult } | { ok: false; err: unknown }>;
}

function utcDay(day: number): string {
  return new Date(day * DAY).toISOString().slice(0, 10);
}

/**
 * Daily partitions for the days imported, so history does not pile up in points_default. Days
 * are tracked as points arrive; the missing ones are created before their batch is written.
 */
class DayPartitions {
  private readonly ensured = new Set<number>();
  private lo = Infinity;
  private hi = -Infinity;

  constructor(private readonly db: Db) {}

  note(ts: number): void {
    const day = Math.floor(ts / DAY);
    if (this.ensured.has(day)) return;
    if (day < this.lo) this.lo = day;
    if (day > this.hi) this.hi = day;
  }

  async ensure(): Promise<void> {
    if (this.lo > this.hi) return;
    const [lo, hi] = [this.lo, this.hi];
    this.lo = Infinity;
    this.hi = -Infinity;
    await this.db.one(sql.pointsPartitionsEnsure, [utcDay(lo), utcDay(hi)]);
    for (let d = lo; d <= hi; d++) this.ensured.add(d);
  }
}

export interface BatchDeps {
  db: Db;
  store: PointWriter;
  batchSize: number;
  stats: Stats;
  rejections: Rejections;
  limits?: ImportLimits | undefined;
}

export class ImportBatch {
  // Kept as encoded buffer entries of ENTRY_POINTS points, exactly what a flush writes: parsed
  // rows die young instead of piling up in the old generation until the write.
  private open: Point[] = [];
  private encoded: EncodedEntry[] = [];
  private points = 0;
  private firstLine = 0;
  private lastLine = 0;
  private readonly repeats = new RepeatWindow();
  private readonly days: DayPartitions;
  private inFlight: InFlight | null = null;

  constructor(private readonly deps: BatchDeps) {
    this.days = new DayPartitions(deps.db);
  }

  /** Adds a valid point to the batch; true when the batch is full and must be submitted. */
  add(point: Point, line: number): boolean {
    const earlier = this.repeats.check(point, line);
    if (earlier !== undefined) {
      // Same series and millisecond as a row of this batch: the same value is a duplicate
      // (nothing lost), another value is refused as ingest refuses it (one would be lost).
      if (Object.is(earlier.value, point.value)) this.deps.stats.duplicates += 1;
      else
        this.deps.rejections.reject(line, [
          {
            field: 'timestamp',
            reason: `repeats line ${earlier.line} with another value: same series and millisecond (a series holds one value per millisecond)`,
          },
        ]);
      return false;
    }
    if (this.points === 0) this.firstLine = line;
    this.lastLine = line;
    this.days.note(point.ts);
    this.points += 1;
    const { limits, batchSize } = this.deps;
    if (limits !== undefined) {
      const verdict = limits.classify(point, line, this.repeats.lastFingerprint);
      if (verdict === 'held') return this.points >= batchSize || limits.asked >= ADMIT_AT_ONCE;
      if (verdict !== 'keep') {
        this.refuse(line, verdict);
        return false;
      }
    }
    this.keep(point);
    return this.points >= batchSize;
  }

  /** Ends the batch and starts its write, once the previous batch's write has ended. */
  async submit(): Promise<void> {
    await this.deps.limits?.admitHeld(
      this.lastLine,
      (p) => this.keep(p),
      (line, r) => this.refuse(line, r),
    );
    if (this.open.length > 0) this.encoded.push(encodeEntry(this.open));
    const entries = this.encoded;
    this.open = [];
    this.encoded = [];
    this.points = 0;
    this.repeats.clear();
    await this.settle();
    if (entries.length === 0) return;
    const { firstLine, lastLine } = this;
    try {
      await this.days.ensure();
    } catch (err) {
      throw new ImportError(
        `creating the daily partitions for lines ${firstLine}-${lastLine} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.inFlight = {
      firstLine,
      lastLine,
      outcome: this.deps.store.write(entries.map((e) => decodeEntry(e))).then(
        (result) => ({ ok: true as const, result }),
        (err: unknown) => ({ ok: false as const, err }),
      ),
    };
  }

  /** Waits for the write in flight and counts what it stored. */
  async settle(): Promise<void> {
    if (this.inFlight === null) return;
    const { firstLine, lastLine, outcome } = this.inFlight;
    this.inFlight = null;
    const done = await outcome;
    if (!done.ok)
      throw new ImportError(
        `storing the rows of lines ${firstLine}-${lastLine} failed: ${(done.err as Error).message}. ` +
          `Rows before line ${firstLine} are stored; running the import again skips them`,
        { cause: done.err },
      );
    this.deps.stats.imported += done.result.inserted;
    this.deps.stats.duplicates += done.result.points - done.result.inserted;
  }

  /** After a fatal error, lets a write still running end before the caller closes the pool. */
  async drain(): Promise<void> {
    if (this.inFlight !== null) await this.inFlight.outcome;
  }

  private keep(point: Point): void {
    this.open.push(point);
    if (this.open.length >= ENTRY_POINTS) {
      this.encoded.push(encodeEntry(this.open));
      this.open = [];
    }
  }

  private refuse(line: number, r: SeriesRefusal): void {
    this.points -= 1;
    this.deps.rejections.reject(line, [{ field: 'metric_name', reason: refusalReason(r) }]);
  }
}
