import { describe, expect, it } from 'vitest';
import {
  bestSplit,
  incompleteBeta,
  moments,
  studentTwoSided,
  welch,
} from '../../src/metrics/stats.js';

describe('statistics', () => {
  it('computes the incomplete beta and Student t p-values of reference tables', () => {
    expect(incompleteBeta(0.5, 1, 1)).toBeCloseTo(0.5, 12);
    expect(incompleteBeta(0.3, 2, 3)).toBeCloseTo(0.3483, 4);
    // t = 2.228, df = 10 is the two-sided 5 % point; t = 2.576 with a huge df is the normal 1 %.
    expect(studentTwoSided(2.228, 10)).toBeCloseTo(0.05, 3);
    expect(studentTwoSided(2.576, 1e6)).toBeCloseTo(0.01, 3);
    expect(studentTwoSided(0, 5)).toBeCloseTo(1, 12);
  });

  it("Welch's test matches a worked example", () => {
    // Example 1 of the Wikipedia article on Welch's t-test: t = -2.46, df = 24.98, p = 0.021.
    const a = [
      27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4,
    ];
    const b = [
      27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4,
    ];
    const r = welch(moments(b), moments(a));
    expect(r.t).toBeCloseTo(-2.46, 2);
    expect(r.df).toBeCloseTo(24.98, 1);
    expect(r.p).toBeCloseTo(0.021, 3);
  });

  it('finds a step in a noisy series', () => {
    let s = 7;
    const noise = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.2;
    const xs = Array.from({ length: 1_440 }, (_, i) => (i < 700 ? 1 : 1.25) + noise());
    const k = bestSplit(xs, 60) as number;
    expect(Math.abs(k - 700)).toBeLessThanOrEqual(10);
    expect(bestSplit([1, 2, 3], 2)).toBeUndefined();
  });
});

describe('SketchBuilder', () => {
  it('builds the same sketch as add(), key for key', async () => {
    const { SketchBuilder, add } = await import('../../src/metrics/sketch.js');
    const values = [0, -0, 1e-301, 3.5, 3.51, -2, -2.0001, 1e9, 0.001, 42, 42];
    const builder = new SketchBuilder();
    const plain: Record<string, number> = {};
    for (const v of values) {
      builder.add(v);
      add(plain, v);
    }
    expect(JSON.parse(builder.toJSON())).toEqual(plain);
  });
});
