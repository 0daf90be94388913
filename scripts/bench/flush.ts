// Filling the Redis buffer and draining it with the real flush handler, as the ingest and rollup
// benchmarks do.
import { performance } from 'node:perf_hooks';
import { flush, type FlushDeps, type FlushResult } from '../../src/jobs/flush.js';
import { refusedBecause, type PointBuffer } from '../../src/metrics/buffer.js';
import type { Db } from '../../src/infra/db.js';
import type { SeriesDef } from '../../src/metrics/series.js';
import { storeSeries } from '../../src/metrics/store.js';
import { pointsOf, type Dataset } from './data.js';

/** Stores the series rows (untimed) and returns their ids, in the order of `defs`. */
export async function insertSeries(db: Db, defs: SeriesDef[]): Promise<number[]> {
  const rows = await storeSeries(db, defs);
  return defs.map((s) => {
    const row = rows.get(s.fingerprint);
    if (row === undefined) throw new Error(`series ${s.fingerprint} has no id`);
    return row.id;
  });
}

/** Appends all of `data` to the buffer, `chunk` points at a time. */
export async function fillBuffer(buffer: PointBuffer, data: Dataset, chunk: number): Promise<void> {
  for (let i = 0; i < data.n; i += chunk) {
    const r = await buffer.append(pointsOf(data, i, Math.min(data.n, i + chunk)));
    if (!r.accepted) throw new Error(`buffer refused an append: ${refusedBecause(r)}`);
  }
}

/**
 * Runs one flush loop per consumer, all at once, each until a flush finds nothing to do; returns
 * their summed results and the time the loops took, added up.
 */
export async function drainFlush(
  consumers: string[],
  deps: (consumer: string) => FlushDeps,
): Promise<{ totals: FlushResult; loopMs: number }> {
  const totals: FlushResult = {
    batches: 0,
    points: 0,
    inserted: 0,
    duplicates: 0,
    deadLettered: 0,
    ms: 0,
  };
  let loopMs = 0;
  await Promise.all(
    consumers.map(async (consumer) => {
      const loopStarted = performance.now();
      for (;;) {
        const r = await flush(deps(consumer), { reason: 'manual' });
        totals.batches += r.batches;
        totals.points += r.points;
        totals.inserted += r.inserted;
        totals.duplicates += r.duplicates;
        totals.deadLettered += r.deadLettered;
        if (r.batches === 0) break;
      }
      loopMs += performance.now() - loopStarted;
    }),
  );
  return { totals, loopMs };
}
