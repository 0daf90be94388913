// The statistics regression detection needs: Welch's t-test with an exact two-sided p-value
// (Student's t via the regularised incomplete beta function), and the best single change point
// of a series. Plain functions of arrays: no I/O.

export interface Moments {
  n: number;
  mean: number;
  variance: number;
}

// Where median() sorts: a regression run takes thousands of medians of small arrays, and a
// typed array sorts numerically and natively, several times faster than with a comparator.
let scratch = new Float64Array(256);

/** The median; NaN for no values. */
export function median(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n === 0) return NaN;
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
  for (let i = 0; i < n; i++) scratch[i] = xs[i] as number;
  const s = scratch.subarray(0, n).sort();
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function moments(xs: ArrayLike<number>, from = 0, to = xs.length): Moments {
  const n = to - from;
  if (n <= 0) return { n: 0, mean: NaN, variance: NaN };
  let sum = 0;
  for (let i = from; i < to; i++) sum += xs[i] as number;
  const mean = sum / n;
  let ss = 0;
  for (let i = from; i < to; i++) ss += ((xs[i] as number) - mean) ** 2;
  return { n, mean, variance: n > 1 ? ss / (n - 1) : 0 };
}

// Lentz's continued fraction for the incomplete beta function (Numerical Recipes, 6.4).
function betacf(a: number, b: number, x: number): number {
  const EPS = 1e-14;
  const TINY = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9).
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const xx = x - 1;
  let a = c[0] as number;
  const t = xx + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x),
  );
  return x < (a + 1) / (a + b + 2)
    ? (front * betacf(a, b, x)) / a
    : 1 - (front * betacf(b, a, 1 - x)) / b;
}

/** Two-sided p-value of Student's t with `df` degrees of freedom. */
export function studentTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

export interface WelchResult {
  t: number;
  df: number;
  p: number;
}

/** Welch's unequal-variances t-test of the difference of two means. */
export function welch(a: Moments, b: Moments): WelchResult {
  if (a.n < 2 || b.n < 2) return { t: NaN, df: NaN, p: 1 };
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  const se2 = va + vb;
  if (se2 === 0)
    return { t: a.mean === b.mean ? 0 : Infinity, df: a.n + b.n - 2, p: a.mean === b.mean ? 1 : 0 };
  const t = (b.mean - a.mean) / Math.sqrt(se2);
  const df = se2 ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
  return { t, df, p: studentTwoSided(t, df) };
}

/**
 * The split index k (values before k | from k) that best separates two levels: the one that
 * most reduces the squared error of a one-level fit. Segments are at least `minSegment` long.
 */
export function bestSplit(xs: ArrayLike<number>, minSegment: number): number | undefined {
  const n = xs.length;
  if (n < 2 * minSegment) return undefined;
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = (prefix[i] as number) + (xs[i] as number);
  const total = prefix[n] as number;
  let best: number | undefined;
  let bestGain = -Infinity;
  for (let k = minSegment; k <= n - minSegment; k++) {
    const left = (prefix[k] as number) / k;
    const right = (total - (prefix[k] as number)) / (n - k);
    const gain = ((k * (n - k)) / n) * (left - right) ** 2;
    if (gain > bestGain) {
      bestGain = gain;
      best = k;
    }
  }
  return best;
}
