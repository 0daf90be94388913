// Parses scrape bodies in the Prometheus text format 0.0.4 and OpenMetrics 1.0 text into flat
// samples: a malformed line costs only that line, a body that is not exposition text throws.

export interface PromSample {
  name: string;
  /** Own properties only: a label named `__proto__` is an ordinary key. */
  labels: Record<string, string>;
  value: number;
  /** Epoch milliseconds (OpenMetrics seconds are converted); absent when the line has none. */
  timestampMs?: number;
}

export interface ParseResult {
  samples: PromSample[];
  /** In line order; `line` is 1-based. */
  errors: { line: number; reason: string }[];
  /** Present when there were more samples than `maxSamples`: parsing stopped there. */
  limited?: true;
}

/** The body as a whole is unusable, so the scrape failed (the target is `up=0`), not some lines. */
export class PrometheusParseError extends Error {
  override name = 'PrometheusParseError';
}

/**
 * Past this many, malformed lines are only counted: a body that is mostly garbage would
 * otherwise cost an object per line for messages nobody reads.
 */
const MAX_LISTED_ERRORS = 100;
/** The sniff for binary bodies looks this far; a later control character is just a bad line. */
const SNIFF_CHARS = 1024;

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const LT = 60;
const EQUALS = 61;
const BACKSLASH = 92;
const LOWER_N = 110;
const LBRACE = 123;
const RBRACE = 125;
const BOM = 0xfeff;

// One table read per character instead of a regex per token: no substring is made to test a
// name, and charCodeAt's NaN past the end of the text fails every class by itself.
const METRIC_START = 1;
const METRIC_REST = 2;
const LABEL_START = 4;
const LABEL_REST = 8;
const DIGIT = 16;
const CHAR_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  const digit = c >= 48 && c <= 57;
  if (letter) CHAR_CLASS[c] = METRIC_START | METRIC_REST | LABEL_START | LABEL_REST;
  if (digit) CHAR_CLASS[c] = METRIC_REST | LABEL_REST | DIGIT;
  if (c === 58) CHAR_CLASS[c] = METRIC_START | METRIC_REST;
}

function isClass(c: number, cls: number): boolean {
  return c < 128 && ((CHAR_CLASS[c] ?? 0) & cls) !== 0;
}

const METRIC_TYPES = new Set([
  'counter',
  'gauge',
  'histogram',
  'summary',
  'untyped',
  // OpenMetrics 1.0 only; accepted in 0.0.4 too, since the type changes nothing here.
  'unknown',
  'gaugehistogram',
  'stateset',
  'info',
]);

/** `word` is lower case; `| 0x20` folds only ASCII letters onto it, so this is exact. */
function equalsIgnoreCase(s: string, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) {
    if ((s.charCodeAt(start + k) | 0x20) !== word.charCodeAt(k)) return false;
  }
  return true;
}

function equalsExactly(s: string, start: number, end: number, word: string): boolean {
  return end - start === word.length && s.startsWith(word, start);
}

/** Error messages quote the offending text, but a garbage line can be megabytes long. */
function excerpt(s: string, start: number, end: number): string {
  return JSON.stringify(end - start > 40 ? `${s.slice(start, start + 40)}…` : s.slice(start, end));
}

function describeChar(s: string, at: number, end: number): string {
  return at >= end ? 'end of line' : excerpt(s, at, at + 1);
}

/**
 * The cursor over one line of the body. Fields instead of returned tuples keep the hot path
 * free of short-lived objects; a method that fails leaves its reason in `reason`.
 */
class LineParser {
  i = 0;
  /** End of the current line, excluding the line break. */
  end = 0;
  reason = '';
  // Runs of lines from one family repeat the same names. Reusing the previous line's string
  // when the text matches costs about what slicing does, but samples kept after the scrape
  // then share one string per name instead of each holding a slice, and in V8 a slice of 13+
  // characters keeps the whole body alive.
  private prevName = '';
  private readonly prevLabelNames: string[] = [];

  constructor(
    private readonly s: string,
    private readonly openMetrics: boolean,
  ) {}

  skipBlanks(): void {
    const s = this.s;
    let i = this.i;
    while (i < this.end) {
      const c = s.charCodeAt(i);
      if (c !== SPACE && c !== TAB) break;
      i++;
    }
    this.i = i;
  }

  /** Cursor is at the `#`. Only HELP/TYPE/UNIT are checked, and only where they are clearly bad. */
  comment(): boolean {
    const s = this.s;
    const end = this.end;
    this.i++;
    this.skipBlanks();
    const kwStart = this.i;
    const kwEnd = this.tokenEnd();
    const isType = equalsExactly(s, kwStart, kwEnd, 'TYPE');
    if (
      !isType &&
      !equalsExactly(s, kwStart, kwEnd, 'HELP') &&
      !equalsExactly(s, kwStart, kwEnd, 'UNIT')
    ) {
      return true;
    }
    const keyword = s.slice(kwStart, kwEnd);
    this.i = kwEnd;
    this.skipBlanks();
    const nameStart = this.i;
    const nameEnd = this.tokenEnd();
    if (nameStart === nameEnd) return this.no(`# ${keyword} without a metric name`);
    let i = nameStart;
    if (isClass(s.charCodeAt(i), METRIC_START)) {
      i++;
      while (i < nameEnd && isClass(s.charCodeAt(i), METRIC_REST)) i++;
    }
    if (i !== nameEnd)
      return this.no(`invalid metric name ${excerpt(s, nameStart, nameEnd)} in # ${keyword}`);
    if (!isType) return true;
    this.i = nameEnd;
    this.skipBlanks();
    const typeStart = this.i;
    const typeEnd = this.tokenEnd();
    this.i = typeEnd;
    this.skipBlanks();
    if (typeStart === typeEnd || this.i !== end || !METRIC_TYPES.has(s.slice(typeStart, typeEnd))) {
      return this.no(`invalid metric type ${excerpt(s, typeStart, end)} in # TYPE`);
    }
    return true;
  }

  /** Cursor is at the first character of a sample line. */
  sample(): PromSample | undefined {
    const s = this.s;
    const end = this.end;
    const nameStart = this.i;
    let i = nameStart;
    if (!isClass(s.charCodeAt(i), METRIC_START)) {
      return this.fail(`expected a metric name, found ${describeChar(s, i, end)}`);
    }
    i++;
    while (i < end && isClass(s.charCodeAt(i), METRIC_REST)) i++;
    const name = this.reuse(this.prevName, nameStart, i);
    this.prevName = name;
    this.i = i;
    this.skipBlanks();
    const labels: Record<string, string> = {};
    if (this.i < end && s.charCodeAt(this.i) === LBRACE) {
      if (!this.labelSet(labels, true)) return undefined;
      this.skipBlanks();
    } else if (this.i === i) {
      return i === end
        ? this.fail(`metric ${name} has no value`)
        : this.fail(`unexpected ${describeChar(s, i, end)} after metric name ${name}`);
    }
    if (this.i === end) return this.fail(`metric ${name} has no value`);

    const valueEnd = this.tokenEnd();
    const value = this.float(this.i, valueEnd, 'value');
    if (value === undefined) return undefined;
    this.i = valueEnd;
    this.skipBlanks();

    let timestampMs: number | undefined;
    if (this.i < end && s.charCodeAt(this.i) !== HASH) {
      const tsEnd = this.tokenEnd();
      timestampMs = this.timestamp(this.i, tsEnd);
      if (timestampMs === undefined) return undefined;
      this.i = tsEnd;
      this.skipBlanks();
    }
    if (this.i < end) {
      if (s.charCodeAt(this.i) !== HASH) {
        return this.fail(`unexpected ${excerpt(s, this.i, end)} after the timestamp`);
      }
      if (!this.exemplar()) return undefined;
    }
    return timestampMs === undefined
      ? { name, labels, value }
      : { name, labels, value, timestampMs };
  }

  /**
   * Cursor is at the `{`. Accepts blanks around tokens and a trailing comma, as Prometheus's
   * 0.0.4 parser does; OpenMetrics forbids both, but nothing is gained by refusing them.
   */
  private labelSet(into: Record<string, string>, reuseNames: boolean): boolean {
    const s = this.s;
    const end = this.end;
    this.i++;
    for (let index = 0; ; index++) {
      this.skipBlanks();
      if (this.i === end) return this.no('unterminated label set: missing "}"');
      if (s.charCodeAt(this.i) === RBRACE) {
        this.i++;
        return true;
      }
      const nameStart = this.i;
      if (!isClass(s.charCodeAt(nameStart), LABEL_START)) {
        return this.no(`expected a label name, found ${describeChar(s, nameStart, end)}`);
      }
      let i = nameStart + 1;
      while (i < end && isClass(s.charCodeAt(i), LABEL_REST)) i++;
      let labelName: string;
      if (reuseNames) {
        labelName = this.reuse(this.prevLabelNames[index], nameStart, i);
        this.prevLabelNames[index] = labelName;
      } else {
        labelName = s.slice(nameStart, i);
      }
      this.i = i;
      this.skipBlanks();
      if (this.i === end || s.charCodeAt(this.i) !== EQUALS) {
        return this.no(
          `expected "=" after label name ${labelName}, found ${describeChar(s, this.i, end)}`,
        );
      }
      this.i++;
      this.skipBlanks();
      if (this.i === end || s.charCodeAt(this.i) !== QUOTE) {
        return this.no(
          `expected a quoted value for label ${labelName}, found ${describeChar(s, this.i, end)}`,
        );
      }
      const value = this.labelValue();
      if (value === undefined) return false;
      if (Object.hasOwn(into, labelName)) return this.no(`duplicate label name ${labelName}`);
      if (labelName === '__proto__') {
        // Plain assignment would hit the prototype setter and drop the label without a word.
        Object.defineProperty(into, labelName, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        into[labelName] = value;
      }
      this.skipBlanks();
      if (this.i === end) return this.no('unterminated label set: missing "}"');
      const c = s.charCodeAt(this.i);
      if (c === RBRACE) {
        this.i++;
        return true;
      }
      if (c !== COMMA) {
        return this.no(
          `expected "," or "}" after label ${labelName}, found ${describeChar(s, this.i, end)}`,
        );
      }
      this.i++;
    }
  }

  /**
   * Cursor is at the opening quote. An unknown escape is kept as written, backslash included,
   * which is what Prometheus's own scraper does; rejecting the line would lose the sample.
   */
  private labelValue(): string | undefined {
    const s = this.s;
    const end = this.end;
    let i = this.i + 1;
    let runStart = i;
    // Built only once an escape turns up: nearly every value has none and is a single slice.
    let decoded: string | undefined;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === QUOTE) {
        this.i = i + 1;
        const run = s.slice(runStart, i);
        return decoded === undefined ? run : decoded + run;
      }
      if (c === BACKSLASH && i + 1 < end) {
        const e = s.charCodeAt(i + 1);
        const replacement =
          e === BACKSLASH ? '\\' : e === QUOTE ? '"' : e === LOWER_N ? '\n' : undefined;
        if (replacement !== undefined) {
          decoded = (decoded ?? '') + s.slice(runStart, i) + replacement;
          runStart = i + 2;
        }
        i += 2;
        continue;
      }
      i++;
    }
    return this.fail('unterminated label value: missing closing quote');
  }

  /** Cursor is at the `#` after the value or timestamp. Checked for shape, then dropped. */
  private exemplar(): boolean {
    const s = this.s;
    const end = this.end;
    this.i++;
    this.skipBlanks();
    if (this.i === end || s.charCodeAt(this.i) !== LBRACE) {
      return this.no(
        `expected an exemplar label set after "#", found ${describeChar(s, this.i, end)}`,
      );
    }
    if (!this.labelSet({}, false)) return false;
    this.skipBlanks();
    if (this.i === end) return this.no('exemplar has no value');
    const valueEnd = this.tokenEnd();
    if (this.float(this.i, valueEnd, 'exemplar value') === undefined) return false;
    this.i = valueEnd;
    this.skipBlanks();
    if (this.i === end) return true;
    const tsEnd = this.tokenEnd();
    if (this.float(this.i, tsEnd, 'exemplar timestamp') === undefined) return false;
    this.i = tsEnd;
    this.skipBlanks();
    return this.i === end || this.no(`unexpected ${excerpt(s, this.i, end)} after the exemplar`);
  }

  /**
   * What Prometheus accepts: Go's strconv.ParseFloat without hex floats and `_` separators.
   * So `NaN`, `Inf`, `+inf`, `Infinity` in any case (prom-client writes `Nan`), `.5`, `5.`,
   * `1e-3`; not JavaScript's extras (`0x10`, `0b1`, blanks, the empty string).
   */
  private float(start: number, end: number, what: string): number | undefined {
    const s = this.s;
    let i = start;
    let c = s.charCodeAt(i);
    if (c === PLUS || c === MINUS) c = ++i < end ? s.charCodeAt(i) : NaN;
    const folded = c | 0x20;
    if (folded === 0x69 /* i */) {
      if (equalsIgnoreCase(s, i, end, 'inf') || equalsIgnoreCase(s, i, end, 'infinity')) {
        return s.charCodeAt(start) === MINUS ? -Infinity : Infinity;
      }
    } else if (folded === 0x6e /* n */) {
      // Go takes no sign on NaN.
      if (i === start && equalsIgnoreCase(s, i, end, 'nan')) return NaN;
    } else {
      const intStart = i;
      while (i < end && isClass(s.charCodeAt(i), DIGIT)) i++;
      let digits = i - intStart;
      if (i < end && s.charCodeAt(i) === DOT) {
        const fracStart = ++i;
        while (i < end && isClass(s.charCodeAt(i), DIGIT)) i++;
        digits += i - fracStart;
      }
      if (digits > 0 && i < end && (s.charCodeAt(i) | 0x20) === 0x65 /* e */) {
        i++;
        c = s.charCodeAt(i);
        if (i < end && (c === PLUS || c === MINUS)) i++;
        const expStart = i;
        while (i < end && isClass(s.charCodeAt(i), DIGIT)) i++;
        if (i === expStart) digits = 0;
      }
      if (digits > 0 && i === end) {
        // On this grammar JavaScript's conversion is the same correctly rounded one as Go's.
        const v = Number(s.slice(start, end));
        // Go reports overflow (1e999) as an error rather than returning ±Inf; so does Prometheus.
        if (v === Infinity || v === -Infinity)
          return this.fail(`${what} ${excerpt(s, start, end)} is out of range`);
        return v;
      }
    }
    return this.fail(`invalid ${what} ${excerpt(s, start, end)}`);
  }

  /** 0.0.4: integer milliseconds. OpenMetrics: seconds, with an optional fraction. */
  private timestamp(start: number, end: number): number | undefined {
    const s = this.s;
    if (this.openMetrics) {
      const seconds = this.float(start, end, 'timestamp');
      if (seconds === undefined) return undefined;
      if (!Number.isFinite(seconds))
        return this.fail(`invalid timestamp ${excerpt(s, start, end)}`);
      // Rounded, where Prometheus truncates: a decimal fraction is inexact in binary, and
      // 1.005 s would truncate to 1004 ms.
      const ms = Math.round(seconds * 1000);
      if (!Number.isSafeInteger(ms))
        return this.fail(`timestamp ${excerpt(s, start, end)} is out of range`);
      return ms;
    }
    let i = start;
    const c = s.charCodeAt(i);
    if (c === PLUS || c === MINUS) i++;
    const digitsStart = i;
    while (i < end && isClass(s.charCodeAt(i), DIGIT)) i++;
    if (i === digitsStart || i !== end) {
      return this.fail(
        `invalid timestamp ${excerpt(s, start, end)}: expected integer milliseconds`,
      );
    }
    const ms = Number(s.slice(start, end));
    if (!Number.isSafeInteger(ms))
      return this.fail(`timestamp ${excerpt(s, start, end)} is out of range`);
    return ms;
  }

  /** End of the token at the cursor: the next blank, or the end of the line. */
  private tokenEnd(): number {
    const s = this.s;
    let i = this.i;
    while (i < this.end) {
      const c = s.charCodeAt(i);
      if (c === SPACE || c === TAB) break;
      i++;
    }
    return i;
  }

  private reuse(prev: string | undefined, start: number, end: number): string {
    return prev !== undefined && equalsExactly(this.s, start, end, prev)
      ? prev
      : this.s.slice(start, end);
  }

  private fail(reason: string): undefined {
    this.reason = reason;
    return undefined;
  }

  private no(reason: string): false {
    this.reason = reason;
    return false;
  }
}

/**
 * An error page or a binary body would otherwise come back as a pile of per-line errors and
 * perhaps a stray "sample"; it is a failed scrape, and the message should say what came back.
 */
function rejectNonExposition(text: string, start: number): void {
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== SPACE && c !== TAB && c !== LF && c !== CR) break;
    i++;
  }
  if (text.charCodeAt(i) === LT) {
    const eol = text.indexOf('\n', i);
    const start = excerpt(text, i, eol === -1 ? text.length : eol);
    throw new PrometheusParseError(
      `not Prometheus exposition text: the body starts with ${start} (an HTML or XML page?)`,
    );
  }
  const stop = Math.min(text.length, i + SNIFF_CHARS);
  for (; i < stop; i++) {
    const c = text.charCodeAt(i);
    if (c < SPACE && c !== TAB && c !== LF && c !== CR) {
      const hex = c.toString(16).padStart(2, '0');
      throw new PrometheusParseError(
        `not Prometheus exposition text: control character 0x${hex} at offset ${i}` +
          ' (a compressed, protobuf or other binary body?)',
      );
    }
  }
}

/** OpenMetrics requires `# EOF` as the last line, and 0.0.4 has no such line: a reliable tell. */
function isOpenMetrics(text: string): boolean {
  let end = text.length;
  while (end > 0) {
    const c = text.charCodeAt(end - 1);
    if (c !== LF && c !== CR && c !== SPACE && c !== TAB) break;
    end--;
  }
  const start = end - 5;
  return (
    start >= 0 &&
    text.startsWith('# EOF', start) &&
    (start === 0 || text.charCodeAt(start - 1) === LF)
  );
}

/**
 * Parses one scrape body. Timestamps come out as epoch ms in both formats. With `maxSamples`,
 * parsing stops at the first sample beyond it and says so in `errors`.
 * @throws PrometheusParseError when the body is not exposition text, or no sample line parses.
 */
export function parsePrometheusText(text: string, opts: { maxSamples?: number } = {}): ParseResult {
  const maxSamples = opts.maxSamples ?? Infinity;
  if (!(maxSamples >= 0)) {
    throw new RangeError(
      `maxSamples must be a non-negative number, got ${String(opts.maxSamples)}`,
    );
  }
  const length = text.length;
  let pos = text.charCodeAt(0) === BOM ? 1 : 0;
  rejectNonExposition(text, pos);

  const parser = new LineParser(text, isOpenMetrics(text));
  const samples: PromSample[] = [];
  const errors: ParseResult['errors'] = [];
  let unlisted = 0;
  let firstUnlistedLine = 0;
  let goodLines = 0;
  let badLines = 0;
  let firstBad: { line: number; reason: string } | undefined;
  let limitLine = 0;
  const report = (line: number, reason: string): void => {
    if (errors.length < MAX_LISTED_ERRORS) errors.push({ line, reason });
    else if (unlisted++ === 0) firstUnlistedLine = line;
  };

  for (let line = 1; pos < length; line++) {
    let next = text.indexOf('\n', pos);
    if (next === -1) next = length;
    let end = next;
    if (end > pos && text.charCodeAt(end - 1) === CR) end--;
    parser.i = pos;
    parser.end = end;
    pos = next + 1;
    parser.skipBlanks();
    if (parser.i === end) continue;
    if (text.charCodeAt(parser.i) === HASH) {
      if (!parser.comment()) report(line, parser.reason);
      continue;
    }
    const sample = parser.sample();
    if (sample === undefined) {
      badLines++;
      firstBad ??= { line, reason: parser.reason };
      report(line, parser.reason);
      continue;
    }
    goodLines++;
    if (samples.length >= maxSamples) {
      limitLine = line;
      break;
    }
    samples.push(sample);
  }

  if (goodLines === 0 && firstBad !== undefined) {
    throw new PrometheusParseError(
      `no sample line could be parsed (${badLines} malformed); line ${firstBad.line}: ${firstBad.reason}`,
    );
  }
  if (unlisted > 0) {
    errors.push({
      line: firstUnlistedLine,
      reason: `${unlisted} more malformed lines from here on, not listed`,
    });
  }
  if (limitLine > 0) {
    errors.push({
      line: limitLine,
      reason: `sample limit of ${maxSamples} reached: this line and the rest of the body were not parsed`,
    });
  }
  return limitLine > 0 ? { samples, errors, limited: true } : { samples, errors };
}
