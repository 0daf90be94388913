// The writes of the demo data: batches generated, checked and written through PointStore, a few
// transactions in flight while the next batch is generated.
import type { Config } from '../config.js';
import type { Db } from '../infra/db.js';
import { entryOf } from '../metrics/entry.js';
import type { Point } from '../metrics/point.js';
import { PointStore, type WriteResult } from '../metrics/store.js';
import { generate, validate } from './generate.js';
import type { Spec } from './spec.js';

/** Write transactions in flight at once (PostgreSQL works on one while the next is generated). */
export const WRITE_CONCURRENCY = 2;

/** Batches written of total, and points generated so far. */
export type DemoProgress = (done: number, total: number, points: number) => void;

/** Writes batches, at most WRITE_CONCURRENCY at once, and counts what they did. */
class BatchWriter {
  readonly fingerprints = new Set<string>();
  points = 0;
  inserted = 0;
  failure: Error | undefined;
  private done = 0;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly store: PointStore,
    private readonly total: number,
    private readonly onProgress: DemoProgress | undefined,
  ) {}

  write(batch: Point[]): Promise<void> {
    this.points += batch.length;
    const entry = entryOf(batch);
    for (const s of entry.series) this.fingerprints.add(s.fingerprint);
    const p: Promise<void> = this.store
      .write([entry])
      .then((r: WriteResult) => {
        this.inserted += r.inserted;
        this.done += 1;
        this.onProgress?.(this.done, this.total, this.points);
      })
      .catch((err: unknown) => {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    return p;
  }

  /** WRITE_CONCURRENCY writes are in flight. */
  get full(): boolean {
    return this.inFlight.size >= WRITE_CONCURRENCY;
  }

  /** Until one of the writes in flight ends. */
  oneDone(): Promise<void> {
    return Promise.race(this.inFlight);
  }

  async settle(): Promise<void> {
    await Promise.all(this.inFlight);
  }
}

export interface Written {
  /** Fingerprints of the series written. */
  fingerprints: Set<string>;
  points: number;
  inserted: number;
}

/** Generates, checks and writes every batch [from, to) of the plan; throws the first failure. */
export async function writeBatches(
  db: Db,
  config: Config,
  specs: Spec[],
  grid: { batches: [number, number][]; stepMs: number; now: number },
  onProgress: DemoProgress | undefined,
): Promise<Written> {
  const { batches, stepMs, now } = grid;
  const writer = new BatchWriter(new PointStore(db), batches.length, onProgress);
  onProgress?.(0, batches.length, 0);
  try {
    for (let i = 0; i < batches.length && writer.failure === undefined; i++) {
      const [from, to] = batches[i] as [number, number];
      const p = writer.write(validate(generate(specs, from, to, stepMs), now, config));
      // The first batch alone creates (nearly) every series; later ones only look them up.
      if (i === 0) await p;
      while (writer.full) await writer.oneDone();
    }
  } finally {
    // Never leave a transaction running behind a failure (the caller closes the pool).
    await writer.settle();
  }
  if (writer.failure !== undefined) throw writer.failure;
  return writer;
}
