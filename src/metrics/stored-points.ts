// How many points of a batch are stored already, found by reading the stored times of its
// series over the batch's time range (one statement, no row per point): a writer of history
// that meets a batch stored whole (a second run of an import) skips it. Exact, and never writes.
import type { Db } from '../infra/db.js';
import type { DecodedEntry, EntrySeries } from './buffer.js';
import { sql } from './queries.js';

// Bounds the series id cache; past it the cache starts over (a lookup, not a loss).
const IDS_MAX = 500_000;
// Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01T00:00:00Z).
const PG_EPOCH_MS = 946_684_800_000;

/** Stored times (timestamptz's binary form, concatenated) as epoch ms, ascending. */
function storedTimes(times: Buffer, n: number): Float64Array {
  const view = new DataView(times.buffer, times.byteOffset, times.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    // Microseconds since 2000 stay far below 2^53: exact as a double.
    const us = view.getInt32(i * 8) * 4_294_967_296 + view.getUint32(i * 8 + 4);
    out[i] = us / 1_000 + PG_EPOCH_MS;
  }
  return out.sort();
}

export class StoredPoints {
  private ids = new Map<string, number>();

  constructor(private readonly db: Pick<Db, 'manyOrNone'>) {}

  /** The number of the entry's points (series and millisecond) that `points` holds. */
  async count(entry: DecodedEntry): Promise<number> {
    const n = entry.ts.length;
    const k = entry.series.length;
    const ids = await this.idsOf(entry.series);
    // The entry's times grouped by series (a counting sort), and each series' range.
    const starts = new Uint32Array(k + 1);
    const lo = new Float64Array(k).fill(Infinity);
    const hi = new Float64Array(k).fill(-Infinity);
    for (let i = 0; i < n; i++) {
      const s = entry.seriesIndex[i] as number;
      const t = entry.ts[i] as number;
      starts[s + 1] = (starts[s + 1] as number) + 1;
      if (t < (lo[s] as number)) lo[s] = t;
      if (t > (hi[s] as number)) hi[s] = t;
    }
    for (let s = 0; s < k; s++) starts[s + 1] = (starts[s + 1] as number) + (starts[s] as number);
    const asked: number[] = [];
    for (let s = 0; s < k; s++)
      if (ids[s] !== undefined && (starts[s + 1] as number) > (starts[s] as number)) asked.push(s);
    if (asked.length === 0) return 0;
    const rows = await this.db.manyOrNone<{ ord: number; n: number; times: Buffer }>(
      sql.pointsStoredInRanges,
      [
        asked.map((s) => ids[s]),
        asked.map((s) => new Date(lo[s] as number)),
        asked.map((s) => new Date(hi[s] as number)),
      ],
    );
    if (rows.length === 0) return 0;
    const grouped = new Float64Array(n);
    const at = starts.slice(0, k);
    for (let i = 0; i < n; i++) {
      const s = entry.seriesIndex[i] as number;
      grouped[(at[s] as number)++] = entry.ts[i] as number;
    }
    let found = 0;
    for (const row of rows) {
      const s = asked[row.ord - 1] as number;
      const mine = grouped.subarray(starts[s], starts[s + 1]).sort();
      const stored = storedTimes(row.times, row.n);
      // Both ascending and distinct: walk them together.
      let j = 0;
      for (let i = 0; i < row.n && j < mine.length; i++) {
        const t = stored[i] as number;
        while (j < mine.length && (mine[j] as number) < t) j += 1;
        if (j < mine.length && mine[j] === t) {
          found += 1;
          j += 1;
        }
      }
    }
    return found;
  }

  /** The stored id of each series (undefined for a series not stored: none of its points is). */
  private async idsOf(series: readonly EntrySeries[]): Promise<(number | undefined)[]> {
    const missing = series.filter((s) => !this.ids.has(s.fingerprint)).map((s) => s.fingerprint);
    if (missing.length > 0) {
      const rows = await this.db.manyOrNone<{ id: number; fingerprint: string }>(sql.seriesIds, [
        missing,
      ]);
      if (this.ids.size + rows.length > IDS_MAX) this.ids = new Map();
      for (const r of rows) this.ids.set(r.fingerprint, r.id);
    }
    return series.map((s) => this.ids.get(s.fingerprint));
  }
}
