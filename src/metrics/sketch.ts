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

// A builder's buckets as one integer each: 2k for the positive bucket k, 2k + 1 for the
// negative one (the zero bucket is counted apart).

/** The code codeOf gives a value of the zero bucket (below every other code). */
export const ZERO_CODE = -(2 ** 31);

/** A value's bucket as one integer: 2k (positive bucket k), 2k + 1 (negative), or ZERO_CODE. */
export function codeOf(value: number): number {
  if (value > MIN_INDEXABLE) return 2 * Math.ceil(Math.log(value) / LN_GAMMA);
  if (value < -MIN_INDEXABLE) return 2 * Math.ceil(Math.log(-value) / LN_GAMMA) + 1;
  return ZERO_CODE;
}

/** Bytes writeSketchJson needs at most for `buckets` buckets and a zero count. */
export const sketchJsonBytes = (buckets: number): number => 2 + 30 * (buckets + 1);

/** Writes the ASCII digits of a whole number (a count or bucket index); returns the end. */
function writeWhole(buf: Uint8Array, at: number, v: number): number {
  if (v < 0) {
    buf[at++] = 45; // -
    v = -v;
  }
  let digits = 1;
  for (let p = 10; p <= v; p *= 10) digits += 1;
  for (let i = at + digits - 1; i >= at; i--) {
    buf[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  return at + digits;
}

/**
 * The stored JSON form of a sketch given as codes (not ZERO_CODE) with their counts, codes[from,
 * to), and a zero count: the text SketchBuilder.toJSON gives, written as ASCII into `buf` at
 * `at` (room for sketchJsonBytes(to - from)); returns where it ends. Counts are whole numbers.
 */
export function writeSketchJson(
  buf: Uint8Array,
  at: number,
  codes: ArrayLike<number>,
  counts: ArrayLike<number>,
  from: number,
  to: number,
  zero: number,
): number {
  let o = at;
  buf[o++] = 123; // {
  for (let j = from; j < to; j++) {
    if (j > from) buf[o++] = 44; // ,
    const code = codes[j] as number;
    buf[o++] = 34; // "
    buf[o++] = code % 2 === 0 ? 112 : 110; // p | n
    o = writeWhole(buf, o, code % 2 === 0 ? code / 2 : (code - 1) / 2);
    buf[o++] = 34;
    buf[o++] = 58; // :
    o = writeWhole(buf, o, counts[j] as number);
  }
  if (zero > 0) {
    if (to > from) buf[o++] = 44;
    buf[o++] = 34;
    buf[o++] = 122; // z
    buf[o++] = 34;
    buf[o++] = 58;
    o = writeWhole(buf, o, zero);
  }
  buf[o++] = 125; // }
  return o;
}
/** Distinct buckets a builder holds in plain arrays before it moves them to a Map. */
const INLINE_BUCKETS = 8;

/** writeSketchJson's text as a string (for the few sketches a statement's parameters take). */
export function sketchJsonText(
  codes: ArrayLike<number>,
  counts: ArrayLike<number>,
  from: number,
  to: number,
  zero: number,
): string {
  const buf = Buffer.allocUnsafe(sketchJsonBytes(to - from));
  return buf.toString('latin1', 0, writeSketchJson(buf, 0, codes, counts, from, to, zero));
}

/**
 * A sketch being filled on a hot path (one series' minute: a few values, a few buckets): its
 * buckets in two small arrays searched in place, moved to a Map keyed by number once there are
 * more than a few (an hour's); no key strings per value, and the stored form made once at the end.
 */
export class SketchBuilder {
  private codes: number[] = [];
  private counts: number[] = [];
  private map: Map<number, number> | null = null;
  private zero = 0;

  add(value: number): void {
    if (value > MIN_INDEXABLE) this.addCode(2 * Math.ceil(Math.log(value) / LN_GAMMA), 1);
    else if (value < -MIN_INDEXABLE)
      this.addCode(2 * Math.ceil(Math.log(-value) / LN_GAMMA) + 1, 1);
    else this.zero += 1;
  }

  /** Adds another builder's counts (the minutes of an hour into the hour). */
  merge(other: SketchBuilder): void {
    other.each((code, n) => this.addCode(code, n));
    this.zero += other.zero;
  }

  /** The stored form as JSON: same keys as keyOf gives. */
  toJSON(): string {
    const codes: number[] = [];
    const counts: number[] = [];
    this.each((code, n) => {
      codes.push(code);
      counts.push(n);
    });
    return sketchJsonText(codes, counts, 0, codes.length, this.zero);
  }

  /** Adds `n` values of the bucket `code` (codeOf's form; ZERO_CODE for zero). */
  addCode(code: number, n: number): void {
    if (code === ZERO_CODE) {
      this.zero += n;
      return;
    }
    if (this.map !== null) {
      this.map.set(code, (this.map.get(code) ?? 0) + n);
      return;
    }
    const codes = this.codes;
    for (let i = 0; i < codes.length; i++) {
      if (codes[i] === code) {
        (this.counts[i] as number) += n;
        return;
      }
    }
    if (codes.length < INLINE_BUCKETS) {
      codes.push(code);
      this.counts.push(n);
      return;
    }
    this.map = new Map();
    for (let i = 0; i < codes.length; i++)
      this.map.set(codes[i] as number, this.counts[i] as number);
    this.map.set(code, n);
    this.codes = [];
    this.counts = [];
  }

  private each(fn: (code: number, n: number) => void): void {
    if (this.map !== null) for (const [code, n] of this.map) fn(code, n);
    else
      for (let i = 0; i < this.codes.length; i++)
        fn(this.codes[i] as number, this.counts[i] as number);
  }
}

/** Counts per bucket index over a contiguous, growable window (merging adds, never allocates). */
class DenseStore {
  lo = 0;
  counts = new Float64Array(0);
  total = 0;

  add(index: number, count: number): void {
    if (this.counts.length === 0) {
      this.lo = index - 8;
      this.counts = new Float64Array(32);
    } else if (index < this.lo || index >= this.lo + this.counts.length) {
      this.grow(index);
    }
    (this.counts[index - this.lo] as number) += count;
    this.total += count;
  }

  private grow(index: number): void {
    const hi = Math.max(this.lo + this.counts.length, index + 1);
    const lo = Math.min(this.lo, index);
    // Room on both sides, so a run of neighbouring indices grows the window a few times only.
    const span = hi - lo;
    const newLo = lo - (index < this.lo ? span : 0);
    const next = new Float64Array(span * 2);
    next.set(this.counts, this.lo - newLo);
    this.lo = newLo;
    this.counts = next;
  }
}

/**
 * A sketch being merged from many others (readers and rollup tiers): dense counts per bucket
 * index, so merging thousands of stored sketches costs one array add per bucket. Its stored
 * form (`encode`) is compact binary, about 2–3 bytes a bucket: a version byte, then unsigned
 * LEB128 varints: the zero count; for positive, then negative values the number of buckets and
 * per bucket the zigzag-coded step from the previous index (ascending) and the count.
 */
export class SketchAcc {
  private readonly pos = new DenseStore();
  private readonly neg = new DenseStore();
  private zero = 0;

  get count(): number {
    return this.pos.total + this.neg.total + this.zero;
  }

  addValue(value: number, count = 1): void {
    if (value > MIN_INDEXABLE) this.pos.add(Math.ceil(Math.log(value) / LN_GAMMA), count);
    else if (value < -MIN_INDEXABLE) this.neg.add(Math.ceil(Math.log(-value) / LN_GAMMA), count);
    else this.zero += count;
  }

  /** Adds `count` values of the bucket `code` (codeOf's form; ZERO_CODE for zero). */
  addCode(code: number, count: number): void {
    if (code === ZERO_CODE) this.zero += count;
    else if (code % 2 === 0) this.pos.add(code / 2, count);
    else this.neg.add((code - 1) / 2, count);
  }

  /** @internal Adds `count` at a bucket: sign 1 positive, -1 negative, 0 zero. */
  addIndex(sign: 1 | -1 | 0, index: number, count: number): void {
    if (sign === 1) this.pos.add(index, count);
    else if (sign === -1) this.neg.add(index, count);
    else this.zero += count;
  }

  /** Adds a sketch in the jsonb form of rollup_1m (keys "p<k>", "n<k>", "z"). */
  mergeJson(sketch: Sketch): void {
    for (const key in sketch) {
      const count = sketch[key] as number;
      if (!(count > 0)) continue;
      if (key === 'z') this.zero += count;
      else if (key[0] === 'p') this.pos.add(Number(key.slice(1)), count);
      else this.neg.add(Number(key.slice(1)), count);
    }
  }

  merge(other: SketchAcc): void {
    this.zero += other.zero;
    mergeStore(this.pos, other.pos);
    mergeStore(this.neg, other.neg);
  }

  /**
   * Adds a sketch in the stored binary form (see the class comment) that starts at `offset`;
   * returns where it ends, so a concatenation of sketches can be merged in one pass.
   */
  mergeEncoded(buf: Uint8Array, offset = 0): number {
    return readEncoded(buf, offset, (sign, index, count) => this.addIndex(sign, index, count));
  }

  /** Adds every sketch of a concatenation of stored sketches. */
  mergeEncodedAll(buf: Uint8Array): void {
    for (let at = 0; at < buf.length;) at = this.mergeEncoded(buf, at);
  }

  encode(): Buffer {
    const np = nonZero(this.pos);
    const nn = nonZero(this.neg);
    // At most 8 bytes a varint for counts below 2^53, 5 for index steps.
    const buf = Buffer.allocUnsafe(1 + 8 * 3 + 13 * (np + nn));
    let at = 0;
    buf[at++] = ENCODING_VERSION;
    const put = (n: number): void => {
      if (!(Number.isInteger(n) && n >= 0 && n < 2 ** 53))
        throw new RangeError(`a sketch count or step must be a whole number: ${n}`);
      while (n >= 0x80) {
        buf[at++] = (n % 0x80) | 0x80;
        n = Math.floor(n / 0x80);
      }
      buf[at++] = n;
    };
    put(this.zero);
    for (const [store, n] of [
      [this.pos, np],
      [this.neg, nn],
    ] as const) {
      put(n);
      const { counts, lo } = store;
      let prev = 0;
      for (let i = 0; i < counts.length; i++) {
        const c = counts[i] as number;
        if (c === 0) continue;
        const step = lo + i - prev;
        put(step >= 0 ? step * 2 : -step * 2 - 1);
        put(c);
        prev = lo + i;
      }
    }
    return Buffer.from(buf.subarray(0, at));
  }

  /** The same quantile rule as `quantiles` (percentile_disc ranks, clamped to the bounds). */
  quantiles(qs: number[], bounds?: { min: number; max: number }): number[] {
    return quantilesOver(qs, this.count, bounds, (emit) => {
      // Negative values first, the most negative (highest index) first.
      const { counts: nc, lo: nlo } = this.neg;
      for (let i = nc.length - 1; i >= 0; i--)
        if (nc[i] !== 0 && emit(nc[i] as number, () => -valueOfIndex(nlo + i))) return;
      if (this.zero > 0 && emit(this.zero, () => 0)) return;
      const { counts: pc, lo: plo } = this.pos;
      for (let i = 0; i < pc.length; i++)
        if (pc[i] !== 0 && emit(pc[i] as number, () => valueOfIndex(plo + i))) return;
    });
  }
}

/**
 * One stored sketch read as it is, without merging: its quantiles straight from the encoded
 * buckets (already in index order), for answers where a bucket is one stored row.
 */
export class EncodedSketch {
  private zero = 0;
  /** Index and count pairs, ascending index; filled on first use (callers that only need a
   * bucket's totals, such as regression's per-minute averages, never decode). */
  private readonly pos: number[] = [];
  private readonly neg: number[] = [];
  private total = -1;

  constructor(private readonly buf: Uint8Array) {}

  get count(): number {
    if (this.total < 0) {
      this.total = 0;
      readEncoded(this.buf, 0, (sign, index, count) => {
        if (sign === 0) this.zero += count;
        else (sign === 1 ? this.pos : this.neg).push(index, count);
        this.total += count;
      });
    }
    return this.total;
  }

  quantiles(qs: number[], bounds?: { min: number; max: number }): number[] {
    return quantilesOver(qs, this.count, bounds, (emit) => {
      const { neg, pos } = this;
      for (let i = neg.length - 2; i >= 0; i -= 2)
        if (emit(neg[i + 1] as number, () => -valueOfIndex(neg[i] as number))) return;
      if (this.zero > 0 && emit(this.zero, () => 0)) return;
      for (let i = 0; i < pos.length; i += 2)
        if (emit(pos[i + 1] as number, () => valueOfIndex(pos[i] as number))) return;
    });
  }
}

/**
 * Reads one stored sketch (the form SketchAcc.encode writes) starting at `offset`, handing
 * each bucket to `bucket` (sign 0 for the zero bucket, then positive and negative buckets in
 * ascending index order); returns where the sketch ends.
 */
function readEncoded(
  buf: Uint8Array,
  offset: number,
  bucket: (sign: 1 | -1 | 0, index: number, count: number) => void,
): number {
  if (buf[offset] !== ENCODING_VERSION)
    throw new RangeError('not a pulse sketch (unknown encoding)');
  let at = offset + 1;
  const next = (): number => {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = buf[at++];
      if (b === undefined) throw new RangeError('truncated pulse sketch');
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 128;
    }
  };
  const zero = next();
  if (zero > 0) bucket(0, 0, zero);
  for (const sign of [1, -1] as const) {
    let index = 0;
    for (let n = next(); n > 0; n--) {
      const z = next();
      index += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      bucket(sign, index, next());
    }
  }
  return at;
}

/**
 * The percentile_disc rule over buckets that `walk` hands out in value order (count, value):
 * one walk for every rank asked, a bucket's value computed only when a rank falls in it;
 * `emit` says when every rank is answered. Clamped to the bounds when given (p0, p100 exact).
 */
function quantilesOver(
  qs: number[],
  n: number,
  bounds: { min: number; max: number } | undefined,
  walk: (emit: (count: number, value: () => number) => boolean) => void,
): number[] {
  if (n === 0) return qs.map(() => NaN);
  const ranks = qs
    .map((q, i) => ({ i, rank: Math.max(1, Math.ceil(q * n - 1e-9)) }))
    .sort((a, b) => a.rank - b.rank);
  const out = new Array<number>(qs.length).fill(NaN);
  let k = 0;
  let seen = 0;
  let lastValue: (() => number) | undefined;
  walk((count, value) => {
    seen += count;
    lastValue = value;
    if (k < ranks.length && seen >= (ranks[k] as { rank: number }).rank) {
      const v = value();
      while (k < ranks.length && seen >= (ranks[k] as { rank: number }).rank)
        out[(ranks[k++] as { i: number }).i] = v;
    }
    return k === ranks.length;
  });
  // Ranks past the total (rounding) take the largest value, as percentile_disc would.
  if (k < ranks.length && lastValue) {
    const v = lastValue();
    for (; k < ranks.length; k++) out[(ranks[k] as { i: number }).i] = v;
  }
  return bounds ? out.map((v) => Math.min(bounds.max, Math.max(bounds.min, v))) : out;
}

const ENCODING_VERSION = 1;

function nonZero(store: DenseStore): number {
  let n = 0;
  for (let i = 0; i < store.counts.length; i++) if (store.counts[i] !== 0) n += 1;
  return n;
}

function mergeStore(into: DenseStore, from: DenseStore): void {
  const { counts, lo } = from;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c !== 0) into.add(lo + i, c);
  }
}
