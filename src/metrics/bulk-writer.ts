// Writes many batches of points (an import, the demo data) through PointStore.write with a few
// transactions in flight on their own connections, so PostgreSQL works on some while the next
// is prepared. A batch stored whole already (a second run) is only checked, never written. The
// hours written are built from the writes' own minutes (hour-rollups.ts) at the end, and
// whenever more are held than that allows. Counts what was stored; never reports a batch as
// stored before its transaction committed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DecodedEntry } from './buffer.js';
import type { HourRollups, HoursBuilt } from './hour-rollups.js';
import type { WriteResult } from './store.js';
import type { StoredPoints } from './stored-points.js';

/** What the writer needs of PointStore (a test can hand in a slow one). */
export interface PointWriter {
  write(entries: DecodedEntry[]): Promise<WriteResult>;
}

/** Write transactions in flight at once: PostgreSQL's cores are busy while the next is made. */
export const WRITES_IN_FLIGHT = 3;

// Two batches in flight that hold the same points in another order can deadlock on them; the
// one PostgreSQL aborts is written again (it then finds the other's points stored).
const RETRIED = new Set(['40P01', '40001']);
const ATTEMPTS = 4;

/** What one batch did, as its write (or the check that found it stored) says. */
export interface BatchDone<L> {
  label: L;
  points: number;
  inserted: number;
  /** True when the batch was stored whole already and only checked. */
  checked: boolean;
}

export interface BulkWriterOptions<L> {
  store: PointWriter;
  /** Without it every batch is written (the primary key still skips stored points). */
  stored?: StoredPoints | undefined;
  inFlight?: number;
  /** Without it the hours are left dirty, for the aggregate job. */
  hours?: HourRollups | undefined;
  /** Called as each batch ends, in the order they end. */
  onDone?: (done: BatchDone<L>) => void;
}

interface Failure<L> {
  label: L;
  seq: number;
  err: unknown;
}

export class BulkWriter<L> {
  private readonly running = new Set<Promise<void>>();
  private readonly limit: number;
  private failures: Failure<L>[] = [];
  private seq = 0;
  // A check costs a statement per batch; it is skipped while batches come out not stored at all
  // (a first run), and taken up again when a write meets points that were stored.
  private checking = true;

  constructor(private readonly opts: BulkWriterOptions<L>) {
    this.limit = opts.inFlight ?? WRITES_IN_FLIGHT;
  }

  /** True once a batch failed: the caller stops producing and calls settle(). */
  get failed(): boolean {
    return this.failures.length > 0;
  }

  /**
   * Starts writing `entry` once fewer than the limit are in flight. The first batch is written
   * alone: it creates the series (nearly all of a file's), which takes their metrics' locks, and
   * writes beside it would only wait for them.
   */
  async write(entry: DecodedEntry, label: L): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    if (this.opts.hours?.full) {
      await this.drain();
      if (!this.failed) await this.opts.hours.build();
    }
    if (this.failed) return;
    const seq = this.seq++;
    const p: Promise<void> = this.one(entry, label)
      .then((done) => this.opts.onDone?.(done))
      .catch((err: unknown) => {
        this.failures.push({ label, seq, err });
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
    if (seq === 0) await p;
  }

  /**
   * Waits for every batch in flight; rejects with the failure of the earliest batch that
   * failed (every batch before it is stored), its label attached.
   */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
    if (this.failures.length === 0) return;
    const first = this.failures.reduce((a, b) => (b.seq < a.seq ? b : a));
    throw new BatchFailed(first.label, first.err);
  }

  /** settle(), then the hours held are built; resolves with how many were (and their rows). */
  async finish(): Promise<HoursBuilt> {
    await this.settle();
    return (await this.opts.hours?.build()) ?? { hours: 0, rows: 0 };
  }

  private async writeRetrying(entry: DecodedEntry): Promise<WriteResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.opts.store.write([entry]);
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code;
        if (attempt >= ATTEMPTS || typeof code !== 'string' || !RETRIED.has(code)) throw err;
        await sleep(20 * attempt * (1 + Math.random()));
      }
    }
  }

  /** Waits for every batch in flight, whatever became of them (after a failure elsewhere). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  private async one(entry: DecodedEntry, label: L): Promise<BatchDone<L>> {
    const points = entry.ts.length;
    if (this.checking && this.opts.stored !== undefined) {
      const stored = await this.opts.stored.count(entry);
      if (stored === points) return { label, points, inserted: 0, checked: true };
      if (stored === 0) this.checking = false;
    }
    const r = await this.writeRetrying(entry);
    if (r.inserted < r.points) this.checking = true;
    if (r.minutes !== undefined) this.opts.hours?.add(r.minutes);
    return { label, points: r.points, inserted: r.inserted, checked: false };
  }
}

/** A batch's write failed; `label` says which batch (the writer's caller named it). */
export class BatchFailed<L> extends Error {
  override name = 'BatchFailed';

  constructor(
    readonly label: L,
    cause: unknown,
  ) {
    super((cause as Error)?.message ?? String(cause), { cause });
  }
}
