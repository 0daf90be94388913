// Writes many batches of points (an import, the demo data) through PointStore.write with a few
// transactions in flight on their own connections, so PostgreSQL works on some while the next
// is prepared. A batch stored whole already (a second run) is only checked, never written. The
// hours written are built from the writes' own minutes (hour-rollups.ts) in rounds of upkeep
// beside the writes (those the writes have left behind), whenever more are held than allowed,
// and at the end. Counts what was stored; never reports a batch as stored before its
// transaction committed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DecodedEntry } from './buffer.js';
import { HOUR } from '../infra/time.js';
import type { HourRollups, HoursBuilt } from './hour-rollups.js';
import type { WriteResult } from './store.js';
import type { StoredPoints } from './stored-points.js';

/** What the writer needs of PointStore (a test can hand in a slow one). */
export interface PointWriter {
  write(entries: DecodedEntry[]): Promise<WriteResult>;
}

/** Write transactions in flight at once: PostgreSQL's cores are busy while the next is made. */
export const WRITES_IN_FLIGHT = 3;

/**
 * Batches between two rounds of upkeep in the background, beside the writes: the hours the
 * writes have left behind built, and the caller's upkeep (the metric rollups' compaction), so
 * that little is left for the end.
 */
export const UPKEEP_EVERY = 8;

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
  /** Run in each round of upkeep, after the hours (one round at a time). */
  upkeep?: () => Promise<unknown>;
}

interface Failure<L> {
  label: L;
  seq: number;
  err: unknown;
}

export class BulkWriter<L> {
  /** Writes in flight, each with the earliest time of its batch. */
  private readonly running = new Map<Promise<void>, number>();
  private upkeeping: Promise<void> | null = null;
  private upkeepError: Error | null = null;
  private sinceUpkeep = 0;
  private readonly builtBefore: HoursBuilt = { hours: 0, rows: 0 };
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
    while (this.running.size >= this.limit) await Promise.race(this.running.keys());
    if (this.opts.hours?.full) {
      await this.drain();
      if (!this.failed) this.count(await this.opts.hours.build());
    }
    if (this.failed) return;
    const seq = this.seq++;
    const p: Promise<void> = this.one(entry, label)
      .then((done) => this.opts.onDone?.(done))
      .catch((err: unknown) => {
        this.failures.push({ label, seq, err });
      })
      .finally(() => this.running.delete(p));
    this.running.set(p, earliest(entry.ts));
    if (seq === 0) await p;
    else if (++this.sinceUpkeep >= UPKEEP_EVERY && this.upkeeping === null) this.startUpkeep();
  }

  /** Adds hours built before finish() to what it reports. */
  private count(built: HoursBuilt): void {
    this.builtBefore.hours += built.hours;
    this.builtBefore.rows += built.rows;
  }

  /**
   * A round of upkeep in the background: the held hours that end before every batch in
   * flight begins are built (a file in time order writes nothing to them again), then the
   * caller's upkeep. A failure is kept for finish() (the rows are stored whatever happens).
   */
  private startUpkeep(): void {
    this.sinceUpkeep = 0;
    const cutoff = Math.min(...this.running.values());
    this.upkeeping = (async () => {
      try {
        const hours = this.opts.hours;
        if (hours !== undefined)
          this.count(await hours.buildBefore(Math.floor(cutoff / HOUR) * HOUR));
        await this.opts.upkeep?.();
      } catch (err) {
        this.upkeepError ??= err instanceof Error ? err : new Error(String(err));
      } finally {
        this.upkeeping = null;
      }
    })();
  }

  /**
   * Waits for every batch in flight; rejects with the failure of the earliest batch that
   * failed (every batch before it is stored), its label attached.
   */
  async settle(): Promise<void> {
    await this.drain();
    if (this.failures.length === 0) return;
    const first = this.failures.reduce((a, b) => (b.seq < a.seq ? b : a));
    throw new BatchFailed(first.label, first.err);
  }

  /**
   * settle(), then the hours held are built; resolves with how many were (and their rows),
   * those of the rounds of upkeep included. Rejects when a round of upkeep failed.
   */
  async finish(): Promise<HoursBuilt> {
    await this.settle();
    if (this.upkeepError !== null) throw this.upkeepError;
    const last = (await this.opts.hours?.build()) ?? { hours: 0, rows: 0 };
    return { hours: last.hours + this.builtBefore.hours, rows: last.rows + this.builtBefore.rows };
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

  /**
   * Waits for every batch in flight and the round of upkeep, whatever became of them (after a
   * failure elsewhere).
   */
  async drain(): Promise<void> {
    while (this.running.size > 0 || this.upkeeping !== null)
      await Promise.all([...this.running.keys(), this.upkeeping]);
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

function earliest(ts: ArrayLike<number>): number {
  let lo = Infinity;
  for (let i = 0; i < ts.length; i++) if ((ts[i] as number) < lo) lo = ts[i] as number;
  return lo;
}
