// The writes of the demo data: batches generated, checked by the ingest rules and handed to the
// bulk writer (a few transactions in flight while the next batch is generated; a batch stored
// already, on a second run, only checked; the closed hours built from the writes' own minutes).
import type { Config } from '../config.js';
import type { Db } from '../infra/db.js';
import { BulkWriter } from '../metrics/bulk-writer.js';
import { entryOf } from '../metrics/entry.js';
import { HourRollups, type HoursBuilt } from '../metrics/hour-rollups.js';
import { PointStore } from '../metrics/store.js';
import { StoredPoints } from '../metrics/stored-points.js';
import { generate, validate } from './generate.js';
import type { Spec } from './spec.js';

/** Batches written of total, and points generated so far. */
export type DemoProgress = (done: number, total: number, points: number) => void;

export interface Written {
  /** Fingerprints of the series written. */
  fingerprints: Set<string>;
  points: number;
  inserted: number;
  /** Closed hours whose rollup_1h the writes' own minutes built. */
  hours: HoursBuilt;
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
  const written: Written = {
    fingerprints: new Set(),
    points: 0,
    inserted: 0,
    hours: { hours: 0, rows: 0 },
  };
  let done = 0;
  const writer = new BulkWriter<number>({
    store: new PointStore(db),
    stored: new StoredPoints(db),
    hours: new HourRollups(db),
    onDone: (d) => {
      written.inserted += d.inserted;
      done += 1;
      onProgress?.(done, batches.length, written.points);
    },
  });
  onProgress?.(0, batches.length, 0);
  try {
    for (let i = 0; i < batches.length && !writer.failed; i++) {
      const [from, to] = batches[i] as [number, number];
      const entry = entryOf(validate(generate(specs, from, to, stepMs), now, config));
      written.points += entry.ts.length;
      for (const s of entry.series) written.fingerprints.add(s.fingerprint);
      await writer.write(entry, i);
    }
    written.hours = await writer.finish();
  } finally {
    // Never leave a transaction running behind a failure (the caller closes the pool).
    await writer.drain();
  }
  return written;
}
