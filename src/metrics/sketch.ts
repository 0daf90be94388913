// A DDSketch (Masson et al., VLDB 2019) with 1 % relative accuracy, kept as a plain map from
// bucket key to count so PostgreSQL can merge sketches itself (sum counts per key). Quantiles
// over any range come from merged sketches: never from averaging per-bucket percentiles.
// Same logarithmic mapping as @datadog/sketches-js; the tests check the two agree.

export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);
// Values this close to zero count as zero (the library's default minimum indexable value).
const MIN_INDEXABLE = 1e-300;

/** Bucket key → count. Positive values use "p<k>", negative "n<k>", zero "z". */
export type Sketch = Record<string, number>;

/** The bucket key of a value. */
export function keyOf(value: number): string {
  if (value > MIN_INDEXABLE) return `p${Math.ceil(Math.log(value) / LN_GAMMA)}`;
  if (value < -MIN_INDEXABLE) return `n${Math.ceil(Math.log(-value) / LN_GAMMA)}`;
  return 'z';
}

/** The value a bucket stands for: within RELATIVE_ACCURACY of every value in it. */
function valueOfIndex(index: number): number {
  return (2 * GAMMA ** index) / (GAMMA + 1);
}

export function add(sketch: Sketch, value: number, count = 1): void {
  const key = keyOf(value);
  sketch[key] = (sketch[key] ?? 0) + count;
}

interface Bucket {
  value: number;
  count: number;
}

/** Buckets in ascending order of the values they stand for. */
function ordered(sketch: Sketch): Bucket[] {
  const negative: Bucket[] = [];
  const positive: Bucket[] = [];
  let zero = 0;
  for (const key in sketch) {
    const count = sketch[key] as number;
    if (!(count > 0)) continue;
    if (key === 'z') zero += count;
    else if (key[0] === 'p') positive.push({ value: valueOfIndex(Number(key.slice(1))), count });
    else negative.push({ value: -valueOfIndex(Number(key.slice(1))), count });
  }
  negative.sort((a, b) => a.value - b.value);
  positive.sort((a, b) => a.value - b.value);
  return zero > 0
    ? [...negative, { value: 0, count: zero }, ...positive]
    : [...negative, ...positive];
}

/**
 * Values at the given quantiles (0..1), with the rank rule of PostgreSQL's percentile_disc:
 * the smallest value whose cumulative share reaches q. Clamped to [min, max] when given, so
 * p0 and p100 are exact. NaN for an empty sketch.
 */
export function quantiles(
  sketch: Sketch,
  qs: number[],
  bounds?: { min: number; max: number },
): number[] {
  const buckets = ordered(sketch);
  const n = buckets.reduce((s, b) => s + b.count, 0);
  return qs.map((q) => {
    if (n === 0) return NaN;
    // percentile_disc: the first value at rank ceil(q·n) (1-based), at least rank 1.
    const rank = Math.max(1, Math.ceil(q * n - 1e-9));
    let seen = 0;
    let v = buckets[buckets.length - 1]?.value ?? NaN;
    for (const b of buckets) {
      seen += b.count;
      if (seen >= rank) {
        v = b.value;
        break;
      }
    }
    return bounds ? Math.min(bounds.max, Math.max(bounds.min, v)) : v;
  });
}

/**
 * A sketch being filled on a hot path: counts in a Map keyed by a number (no key strings per
 * value), turned into the stored form once at the end.
 */
export class SketchBuilder {
  private readonly positive = new Map<number, number>();
  private readonly negative = new Map<number, number>();
  private zero = 0;

  add(value: number): void {
    if (value > MIN_INDEXABLE) {
      const k = Math.ceil(Math.log(value) / LN_GAMMA);
      this.positive.set(k, (this.positive.get(k) ?? 0) + 1);
    } else if (value < -MIN_INDEXABLE) {
      const k = Math.ceil(Math.log(-value) / LN_GAMMA);
      this.negative.set(k, (this.negative.get(k) ?? 0) + 1);
    } else {
      this.zero += 1;
    }
  }

  /** The stored form as JSON: same keys as keyOf gives. */
  toJSON(): string {
    const parts: string[] = [];
    for (const [k, n] of this.positive) parts.push(`"p${k}":${n}`);
    for (const [k, n] of this.negative) parts.push(`"n${k}":${n}`);
    if (this.zero > 0) parts.push(`"z":${this.zero}`);
    return `{${parts.join(',')}}`;
  }
}
