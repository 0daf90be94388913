// Rows of one import batch that repeat the series and millisecond of an earlier row.
import type { Point } from '../metrics/point.js';
import { cachedSeriesDef } from '../metrics/series.js';

/**
 * Finds a row repeating the series and millisecond of an earlier row of the batch, as ingest
 * does within a request. Holds one batch; across batches a repeat meets the primary key and
 * counts as already stored. A series is known by its fingerprint (seriesDef, so tag order does
 * not matter), found per point through the series trie ingest uses (cachedSeriesDef): no
 * hashing or string building per row.
 */
export class RepeatWindow {
  private seen = new Map<string, Map<number, number>>();
  private lines: number[] = [];
  private values: number[] = [];
  /** The fingerprint of the series of the point check() saw last. */
  lastFingerprint = '';

  /** The earlier row with this point's series and time, if the batch holds one. */
  check(p: Point, line: number): { line: number; value: number } | undefined {
    const fingerprint = cachedSeriesDef(p).fingerprint;
    this.lastFingerprint = fingerprint;
    let times = this.seen.get(fingerprint);
    if (times === undefined) {
      times = new Map();
      this.seen.set(fingerprint, times);
    }
    const slot = times.get(p.ts);
    if (slot !== undefined)
      return { line: this.lines[slot] as number, value: this.values[slot] as number };
    times.set(p.ts, this.lines.length);
    this.lines.push(line);
    this.values.push(p.value);
    return undefined;
  }

  /** A new batch. */
  clear(): void {
    this.seen = new Map();
    this.lines = [];
    this.values = [];
  }
}
