// The sketch forms agree: the jsonb map (rollup_1m), the merged accumulator and its compact
// binary form give the same quantiles, merging commutes with encoding, and the ranks follow
// percentile_disc computed here over the same values.
import { describe, expect, it } from 'vitest';
import { SeriesSet } from '../../src/metrics/series-set.js';
import {
  EncodedSketch,
  SketchAcc,
  SketchBuilder,
  quantiles,
  type Sketch,
} from '../../src/metrics/sketch.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

const QS = [0, 0.01, 0.5, 0.9, 0.95, 0.99, 1];

/** Values with negatives, zeros, tiny and huge magnitudes. */
function values(seed: number, n: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const u = r();
    if (u < 0.1) return 0;
    if (u < 0.3) return -Math.exp(10 * r() - 3);
    return Math.exp(30 * r() - 10);
  });
}

/** PostgreSQL's percentile_disc: the smallest value whose cumulative share reaches q. */
function percentileDisc(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length - 1e-9) - 1)] as number;
}

describe('sketch forms', () => {
  it('give the same quantiles: jsonb map, accumulator, stored bytes', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const vs = values(seed, 50 + seed * 37);
      const builder = new SketchBuilder();
      const acc = new SketchAcc();
      for (const v of vs) {
        builder.add(v);
        acc.addValue(v);
      }
      const map = JSON.parse(builder.toJSON()) as Sketch;
      const fromMap = new SketchAcc();
      fromMap.mergeJson(map);
      const encoded = acc.encode();
      const bounds = { min: Math.min(...vs), max: Math.max(...vs) };
      const want = quantiles(map, QS, bounds);
      expect(acc.quantiles(QS, bounds), `seed ${seed}`).toEqual(want);
      expect(fromMap.quantiles(QS, bounds), `seed ${seed}`).toEqual(want);
      expect(new EncodedSketch(encoded).quantiles(QS, bounds), `seed ${seed}`).toEqual(want);
      expect(new EncodedSketch(encoded).count).toBe(vs.length);
      // Within 1 % of the exact rank's value (p0 and p100 exact through the bounds).
      const sorted = [...vs].sort((a, b) => a - b);
      QS.forEach((q, i) => {
        const exact = percentileDisc(sorted, q);
        const got = want[i] as number;
        if (exact === 0) expect(got).toBe(0);
        else expect(Math.abs(got - exact) / Math.abs(exact)).toBeLessThanOrEqual(0.01);
      });
    }
  });

  it('merges a concatenation of stored sketches as it merges them one by one', () => {
    const parts = [1, 2, 3, 4].map((seed) => {
      const a = new SketchAcc();
      for (const v of values(seed, 300)) a.addValue(v);
      return a;
    });
    const oneByOne = new SketchAcc();
    const merged = new SketchAcc();
    for (const p of parts) {
      oneByOne.mergeEncoded(p.encode());
      merged.merge(p);
    }
    const all = new SketchAcc();
    all.mergeEncodedAll(Buffer.concat(parts.map((p) => p.encode())));
    expect(all.count).toBe(1_200);
    expect(all.encode()).toEqual(oneByOne.encode());
    expect(all.encode()).toEqual(merged.encode());
  });

  it('stores about 2–3 bytes a bucket, and refuses what it cannot read', () => {
    const a = new SketchAcc();
    for (let i = 1; i <= 1_000; i++) a.addValue(i);
    // 1 … 1,000 at 1 % accuracy: ln(1000)/ln(1.0202) ≈ 345 buckets.
    const bytes = a.encode().length;
    expect(bytes).toBeGreaterThan(345);
    expect(bytes).toBeLessThan(345 * 3);
    expect(() => new SketchAcc().mergeEncoded(Buffer.from([9, 0, 0, 0]))).toThrow(/encoding/);
    // Read on first use: a truncated sketch is refused then.
    expect(() => new EncodedSketch(Buffer.from([1, 0, 5])).count).toThrow(/truncated/);
  });
});

describe('series sets', () => {
  it('count each ordinal once across merges and stored forms', () => {
    const a = new SeriesSet();
    const b = new SeriesSet();
    for (const o of [0, 3, 7, 8, 1_000]) a.add(o);
    for (const o of [3, 9, 4_095]) b.add(o);
    const both = new SeriesSet();
    both.mergeEncodedAll(
      Buffer.concat(
        [a, b].flatMap((s) => {
          const bytes = s.encode();
          const len = Buffer.alloc(4);
          len.writeInt32BE(bytes.length);
          return [len, bytes];
        }),
      ),
    );
    expect(both.size).toBe(7);
    a.merge(b);
    expect(a.size).toBe(7);
    expect(a.encode()).toEqual(both.encode());
  });
});
