// Numbers read where they lie in the text, for the import's readers: no string is cut out for
// the common cases, and every result is the double Number() gives for the same text.

export const ZERO = 48;
export const NINE = 57;
const PLUS = 43;
const MINUS = 45;
const DOT = 46;
const UPPER_E = 69;
const LOWER_E = 101;

/** Where the run of digits from `i` ends. */
export function digitsEnd(text: string, i: number, end: number): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    i += 1;
  }
  return i;
}

/** text[at, end) as a whole number when it is 1 to 15 digits (exact), else NaN. */
export function smallInteger(text: string, at: number, end: number): number {
  if (end <= at || end - at > 15) return NaN;
  let n = 0;
  for (let i = at; i < end; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

const TWO_53 = 2 ** 53;
/** Powers of ten a double holds exactly. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * The double of the decimal number text[at, end), which the caller has found to be one
 * (`[+-]? digits [. digits] [(e|E) [+-] digits]`, either digit run may be empty). When its
 * digits make an integer below 2^53 and its scale is at most 22 digits, one exact operation
 * rounds it correctly (Clinger's fast path), so the answer is Number()'s; otherwise Number().
 */
export function decimalValue(text: string, at: number, end: number): number {
  let i = at;
  let negative = false;
  const sign = text.charCodeAt(i);
  if (sign === MINUS || sign === PLUS) {
    negative = sign === MINUS;
    i += 1;
  }
  let m = 0;
  let scale = 0;
  let dot = false;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === DOT) dot = true;
    else if (c >= ZERO && c <= NINE) {
      m = m * 10 + (c - ZERO);
      if (dot) scale -= 1;
    } else break;
  }
  if (i < end) {
    const e = text.charCodeAt(i);
    if (e !== LOWER_E && e !== UPPER_E) return Number(text.slice(at, end));
    const exp = Number(text.slice(i + 1, end));
    scale += exp;
  }
  if (!(m < TWO_53) || scale < -22 || scale > 22 || !Number.isInteger(scale))
    return Number(text.slice(at, end));
  const v = scale < 0 ? m / (POW10[-scale] as number) : m * (POW10[scale] as number);
  return negative ? -v : v;
}
