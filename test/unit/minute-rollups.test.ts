import { describe, expect, it } from 'vitest';
import { aggregateMinutes, minuteRollupCopy, minuteSketchJson } from '../../src/metrics/rollup.js';
import type { RollupStats } from '../../src/metrics/copy-binary.js';
import { add, type Sketch } from '../../src/metrics/sketch.js';

interface Expected extends RollupStats {
  sketch: Sketch;
}

/** The same minutes computed point by point with plain objects. */
function naive(ids: number[], ts: number[], values: number[]): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (let i = 0; i < ids.length; i++) {
    const t = ts[i] as number;
    const v = values[i] as number;
    const key = `${ids[i]}:${Math.floor(t / 60_000) * 60_000}`;
    let e = out.get(key);
    if (e === undefined) {
      e = { count: 0, sum: 0, min: v, max: v, last: v, lastTs: t, sketch: {} };
      out.set(key, e);
    }
    e.count += 1;
    e.sum += v;
    e.min = Math.min(e.min, v);
    e.max = Math.max(e.max, v);
    if (t >= e.lastTs) {
      e.last = v;
      e.lastTs = t;
    }
    add(e.sketch, v);
  }
  return out;
}

describe('aggregateMinutes', () => {
  it('gives every series-minute the count, sum, extremes, last value and sketch of its points, in any order', () => {
    let s = 11;
    const r = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const ids: number[] = [];
    const ts: number[] = [];
    const values: number[] = [];
    const base = Date.UTC(2026, 11, 1, 10, 0, 0);
    for (let i = 0; i < 20_000; i++) {
      ids.push(1 + Math.floor(r() * 7));
      // Shuffled across 90 minutes and an hour boundary; some series have 60+ points a minute.
      ts.push(base + Math.floor(r() * 90 * 60_000));
      const k = r();
      values.push(k < 0.05 ? 0 : k < 0.15 ? -r() * 1e3 : k < 0.2 ? Math.floor(r() * 4) : r() * 1e6);
    }
    const m = aggregateMinutes({ seriesId: ids, ts, value: values });
    const want = naive(ids, ts, values);
    expect(m.length).toBe(want.size);
    const seenSeries = new Set<number>();
    let prevSeries = NaN;
    for (let i = 0; i < m.length; i++) {
      const id = m.seriesIds[i] as number;
      // Rows grouped by series.
      if (id !== prevSeries) {
        expect(seenSeries.has(id)).toBe(false);
        seenSeries.add(id);
        prevSeries = id;
      }
      const e = want.get(`${id}:${m.buckets[i]}`) as Expected;
      expect(e).toBeDefined();
      expect([m.counts[i], m.mins[i], m.maxes[i], m.lasts[i], m.lastTimes[i]]).toEqual([
        e.count,
        e.min,
        e.max,
        e.last,
        e.lastTs,
      ]);
      expect(m.sums[i]).toBeCloseTo(e.sum, 6);
      expect(JSON.parse(minuteSketchJson(m, i))).toEqual(e.sketch);
    }
    expect(m.hours.map((h) => h.toISOString())).toEqual([
      '2026-12-01T10:00:00.000Z',
      '2026-12-01T11:00:00.000Z',
    ]);
    // The COPY stream ends with its trailer.
    const copy = Buffer.concat(minuteRollupCopy(m));
    expect(copy.readInt16BE(copy.length - 2)).toBe(-1);
  });

  it('takes no points and gives no rows', () => {
    const m = aggregateMinutes({ seriesId: [], ts: [], value: [] });
    expect(m.length).toBe(0);
    expect(m.hours).toEqual([]);
  });
});
