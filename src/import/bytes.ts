// Reading fields where they lie in the bytes of the input (UTF-8), for the import's readers:
// numbers, digits and comparisons without decoding or cutting out a string in the common cases.
// Every number is the double Number() gives for the same text.

export const ZERO = 48;
export const NINE = 57;
const PLUS = 43;
const MINUS = 45;
const DOT = 46;
const UPPER_E = 69;
const LOWER_E = 101;

/** The byte at `i`, or -1 past the end. */
export function byteAt(buf: Uint8Array, i: number): number {
  return i < buf.length ? (buf[i] as number) : -1;
}

/** Where the run of digits from `i` ends. */
export function digitsEnd(buf: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = buf[i] as number;
    if (c < ZERO || c > NINE) break;
    i += 1;
  }
  return i;
}

/** buf[at, end) as a whole number when it is 1 to 15 digits (exact), else NaN. */
export function smallInteger(buf: Uint8Array, at: number, end: number): number {
  if (end <= at || end - at > 15) return NaN;
  let n = 0;
  for (let i = at; i < end; i++) {
    const d = (buf[i] as number) - ZERO;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/**
 * True when buf[at…] starts with `part`, compared in place: byte by byte for the short runs
 * (there a loop costs a fraction of Buffer.compare's call), natively for long ones.
 */
export function equalAt(buf: Buffer, at: number, part: Uint8Array): boolean {
  const n = part.length;
  if (at < 0 || at + n > buf.length) return false;
  // From 64 bytes on, one native compare (~75 ns a call) beats the loop (~1.4 ns a byte).
  if (n >= 64) return buf.compare(part, 0, n, at, at + n) === 0;
  for (let i = 0; i < n; i++) if (buf[at + i] !== part[i]) return false;
  return true;
}

/** buf[at, end) as text (UTF-8). */
export const textOf = (buf: Buffer, at: number, end: number): string =>
  buf.toString('utf8', at, end);

const TWO_53 = 2 ** 53;
/** Powers of ten a double holds exactly. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * The double of the decimal number buf[at, end), which the caller has found to be one
 * (`[+-]? digits [. digits] [(e|E) [+-] digits]`, either digit run may be empty). When its
 * digits make an integer below 2^53 and its scale is at most 22 digits, one exact operation
 * rounds it correctly (Clinger's fast path), so the answer is Number()'s; otherwise Number().
 */
export function decimalValue(buf: Buffer, at: number, end: number): number {
  let i = at;
  let negative = false;
  const sign = buf[i] as number;
  if (sign === MINUS || sign === PLUS) {
    negative = sign === MINUS;
    i += 1;
  }
  let m = 0;
  let scale = 0;
  let dot = false;
  for (; i < end; i++) {
    const c = buf[i] as number;
    if (c === DOT) dot = true;
    else if (c >= ZERO && c <= NINE) {
      m = m * 10 + (c - ZERO);
      if (dot) scale -= 1;
    } else break;
  }
  if (i < end) {
    const e = buf[i] as number;
    if (e !== LOWER_E && e !== UPPER_E) return Number(buf.toString('latin1', at, end));
    scale += Number(buf.toString('latin1', i + 1, end));
  }
  if (!(m < TWO_53) || scale < -22 || scale > 22 || !Number.isInteger(scale))
    return Number(buf.toString('latin1', at, end));
  const v = scale < 0 ? m / (POW10[-scale] as number) : m * (POW10[scale] as number);
  return negative ? -v : v;
}
