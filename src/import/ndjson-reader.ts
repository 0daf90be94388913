// NDJSON rows, read where they lie in the bytes of the input. A line of the shape of its
// series' last line (the same bytes around a plain time and value) costs three in-place
// comparisons; another line that is one flat object of the import's fields (what JSON.stringify
// and most exporters write) is scanned in place, jumping from quote to quote, its series found by
// its series fields' bytes. Only what neither takes is decoded and goes through JSON.parse and
// the full rules, so every answer is the same. Why a scan that takes every string to end at the
// next quote is exact without looking for escapes or control characters: each field is either
// compared with bytes known to hold none (the series fields, with a line that passed JSON.parse
// and was checked for both before it was remembered), read strictly (digits, the ISO form, the
// key names) or refused; a string cut short at an escaped quote ends in a backslash, which none
// of those accepts. UTF-8 keeps every byte of a multi-byte character above 0x7f, so no byte of
// one is ever taken for a quote, a digit or a line break.
import { TimeKind, type RowChecker, type RowSink } from './check.js';
import { MAX_RECORD_CHARS } from './csv.js';
import { digitsEnd, equalAt, NINE, textOf, ZERO } from './bytes.js';
import { ndjsonRow, type FieldIssue } from './rows.js';
import { SERIES_FIELDS, type Known } from './series-table.js';

const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const COLON = 58;
const UPPER_E = 69;
const LOWER_E = 101;
const OPEN = 123;
const CLOSE = 125;

const LF = 10;
const BACKSLASH = 92;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const NEWLINE = Buffer.from('\n');
const EMPTY: Buffer = Buffer.alloc(0);

/**
 * True when the bytes of a line hold no control character (JSON.parse refuses one raw in a
 * string) and no backslash (an escape): what the series text of a line remembered may not hold.
 */
function plain(buf: Buffer, at: number, end: number): boolean {
  for (let i = at; i < end; i++) {
    const c = buf[i] as number;
    if (c < SPACE || c === BACKSLASH) return false;
  }
  return true;
}

// The fields a line may hold, by slot; the series fields first, in SeriesTable's order.
const METRIC_NAME = 0;
const TAGS = 1;
const AGENT = 2;
const INSTANCE = 3;
const TIMESTAMP = 4;
const METRIC_VALUE = 5;
const VALUE = 6;
const FIELDS_TEXT = [
  'metric_name',
  'tags',
  'source_agent_id',
  'instance_id',
  'timestamp',
  'metric_value',
  'value',
];
const FIELDS = FIELDS_TEXT.map((f) => Buffer.from(f));

const tooLong: FieldIssue = {
  field: 'line',
  reason: `is longer than ${MAX_RECORD_CHARS} characters`,
};

function skipSpaces(buf: Buffer, i: number, end: number): number {
  while (i < end && buf[i] === SPACE) i += 1;
  return i;
}

/** End of the string whose opening quote is at `i` as the scan takes it (the next quote), or -1. */
function stringEnd(buf: Buffer, i: number, end: number): number {
  const q = buf.indexOf(QUOTE, i + 1);
  return q < 0 || q >= end ? -1 : q + 1;
}

/** End of the JSON number starting at `i` (RFC 8259 grammar), or -1. */
function numberEnd(buf: Buffer, i: number, end: number): number {
  if (i < end && buf[i] === MINUS) i += 1;
  const first = i < end ? (buf[i] as number) : -1;
  if (first === ZERO) i += 1;
  else if (first > ZERO && first <= NINE) i = digitsEnd(buf, i + 1, end);
  else return -1;
  if (i < end && buf[i] === DOT) {
    const from = i + 1;
    i = digitsEnd(buf, from, end);
    if (i === from) return -1;
  }
  const e = i < end ? buf[i] : -1;
  if (e === LOWER_E || e === UPPER_E) {
    i += 1;
    if (i < end && (buf[i] === PLUS || buf[i] === MINUS)) i += 1;
    const from = i;
    i = digitsEnd(buf, from, end);
    if (i === from) return -1;
  }
  return i;
}

/** End of a tags object of string values only (`{}` included), or -1. */
function tagsEnd(buf: Buffer, i: number, end: number): number {
  i = skipSpaces(buf, i + 1, end);
  if (buf[i] === CLOSE) return i + 1;
  for (;;) {
    if (buf[i] !== QUOTE) return -1;
    i = stringEnd(buf, i, end);
    if (i < 0) return -1;
    i = skipSpaces(buf, i, end);
    if (buf[i] !== COLON) return -1;
    i = skipSpaces(buf, i + 1, end);
    if (buf[i] !== QUOTE) return -1;
    i = stringEnd(buf, i, end);
    if (i < 0) return -1;
    i = skipSpaces(buf, i, end);
    const c = buf[i];
    if (c === CLOSE && i < end) return i + 1;
    if (c !== COMMA || i >= end) return -1;
    i = skipSpaces(buf, i + 1, end);
  }
}

/** The slot of the key buf[at, end), or -1 for any other key. */
function slotOf(buf: Buffer, at: number, end: number): number {
  let slot: number;
  switch (end - at) {
    case 9:
      slot = TIMESTAMP;
      break;
    case 11:
      slot = buf[at] === 105 ? INSTANCE : METRIC_NAME; // i
      break;
    case 12:
      slot = METRIC_VALUE;
      break;
    case 5:
      slot = VALUE;
      break;
    case 4:
      slot = TAGS;
      break;
    case 15:
      slot = AGENT;
      break;
    default:
      return -1;
  }
  return equalAt(buf, at, FIELDS[slot] as Buffer) ? slot : -1;
}

/**
 * Finds the fields of the line buf[at, end) into `spans` (start and end per slot, -1 when
 * absent): true when it looks like one object of known fields, each once, with plain values
 * (strings, numbers, tags an object of strings). See the top of the file for escapes.
 */
function scan(buf: Buffer, at: number, end: number, spans: Int32Array): boolean {
  for (let s = 0; s < FIELDS.length; s++) spans[2 * s] = -1;
  let i = skipSpaces(buf, at, end);
  if (i >= end || buf[i] !== OPEN) return false;
  i = skipSpaces(buf, i + 1, end);
  for (;;) {
    if (i >= end || buf[i] !== QUOTE) return false;
    const keyEnd = stringEnd(buf, i, end);
    if (keyEnd < 0) return false;
    const slot = slotOf(buf, i + 1, keyEnd - 1);
    if (slot < 0 || (spans[2 * slot] as number) >= 0) return false;
    i = skipSpaces(buf, keyEnd, end);
    if (i >= end || buf[i] !== COLON) return false;
    i = skipSpaces(buf, i + 1, end);
    const c = i < end ? buf[i] : -1;
    let valueEnd: number;
    if (c === QUOTE)
      valueEnd =
        slot === TAGS || slot === METRIC_VALUE || slot === VALUE ? -1 : stringEnd(buf, i, end);
    else if (c === OPEN) valueEnd = slot === TAGS ? tagsEnd(buf, i, end) : -1;
    else valueEnd = slot === TAGS || slot === METRIC_NAME ? -1 : numberEnd(buf, i, end);
    if (valueEnd < 0) return false;
    spans[2 * slot] = i;
    spans[2 * slot + 1] = valueEnd;
    i = skipSpaces(buf, valueEnd, end);
    if (i >= end) return false;
    const next = buf[i];
    if (next === CLOSE) return skipSpaces(buf, i + 1, end) === end;
    if (next !== COMMA) return false;
    i = skipSpaces(buf, i + 1, end);
  }
}

export class NdjsonReader {
  private buf: Buffer = EMPTY;
  private pos = 0;
  // The start of a line that goes on in the next chunk, and how many bytes it has so far.
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private overflow = false;
  private line = 0;
  private readonly spans = new Int32Array(2 * FIELDS.length);
  /** The time and value of a scanned line: start and end of each, and 1 if the time is a string. */
  private readonly cut = new Int32Array(5);

  constructor(private readonly checker: RowChecker) {}

  /** The next chunk of bytes; the previous one must have been read to its end. */
  feed(bytes: Buffer): void {
    this.buf = bytes;
    this.pos = 0;
  }

  /** After the last chunk: a last line without a line break is read by the next read(). */
  finish(): void {
    this.feed(this.carryBytes > 0 || this.overflow ? NEWLINE : EMPTY);
  }

  /** Reads rows into the sink until the chunk is used up (false) or the sink is full (true). */
  read(sink: RowSink): boolean {
    const buf = this.buf;
    while (!sink.full) {
      const start = this.pos;
      const nl = buf.indexOf(LF, start);
      if (nl === -1) {
        this.keep(buf, start);
        this.pos = buf.length;
        return false;
      }
      this.line += 1;
      this.pos = nl + 1;
      if (this.overflow) sink.refuse(this.line, [tooLong]);
      else if (this.carryBytes > 0) {
        this.carry.push(buf.subarray(start, nl));
        const whole = Buffer.concat(this.carry);
        this.lineOf(whole, 0, whole.length, sink);
      } else this.lineOf(buf, start, nl, sink);
      this.carry = [];
      this.carryBytes = 0;
      this.overflow = false;
    }
    return true;
  }

  /** The start of a line that goes on in the next chunk; past what it may hold, only counted. */
  private keep(buf: Buffer, start: number): void {
    if (this.overflow || start === buf.length) return;
    // A UTF-16 code unit takes at most 3 bytes: past 3 × the limit the line is too long anyway.
    this.carryBytes += buf.length - start;
    if (this.carryBytes > 3 * MAX_RECORD_CHARS) {
      this.overflow = true;
      this.carry = [];
      return;
    }
    this.carry.push(Buffer.from(buf.subarray(start)));
  }

  /** One line, buf[at, end) without its line break; a first line loses a byte order mark. */
  private lineOf(buf: Buffer, at: number, end: number, sink: RowSink): void {
    if (this.line === 1 && equalAt(buf, at, BOM)) at += BOM.length;
    if (end - at > MAX_RECORD_CHARS && textOf(buf, at, end).length > MAX_RECORD_CHARS)
      sink.refuse(this.line, [tooLong]);
    else this.row(buf, at, end, sink);
  }

  private row(buf: Buffer, at: number, end: number, sink: RowSink): void {
    // A line break's CR is whitespace to JSON.
    let scanEnd = end;
    if (scanEnd > at && buf[scanEnd - 1] === CR) scanEnd -= 1;
    const table = this.checker.known;
    // The quick way: the line has the shape of the last line of the series expected.
    const shaped = table.shaped(buf, at, scanEnd, numberEnd);
    if (shaped !== undefined) {
      const kind = (shaped.shape?.isoLength ?? 0) > 0 ? TimeKind.Text : TimeKind.Number;
      if (this.checker.take(shaped, buf, table.holes, kind, sink, this.line)) return;
    }
    if (!scan(buf, at, scanEnd, this.spans)) {
      this.slow(buf, at, end, sink, false);
      return;
    }
    const cut = this.cutOut(buf);
    const known = table.find(buf, this.spans);
    const taken =
      known !== undefined &&
      this.checker.take(
        known,
        buf,
        cut,
        cut[4] === 1 ? TimeKind.Text : TimeKind.Number,
        sink,
        this.line,
      );
    const valid = taken ? known : this.slow(buf, at, end, sink, true);
    if (valid !== undefined && (cut[0] as number) >= 0) table.learn(valid, buf, at, scanEnd, cut);
  }

  /** The scanned line's time and value (-1 where absent, or where value is not exactly one). */
  private cutOut(buf: Buffer): Int32Array {
    const spans = this.spans;
    const cut = this.cut;
    const from = spans[2 * TIMESTAMP] as number;
    const to = spans[2 * TIMESTAMP + 1] as number;
    const quoted = from >= 0 && buf[from] === QUOTE;
    cut[0] = quoted ? from + 1 : from;
    cut[1] = quoted ? to - 1 : to;
    cut[4] = quoted ? 1 : 0;
    const a = spans[2 * VALUE] as number;
    const b = spans[2 * METRIC_VALUE] as number;
    const one = a < 0 !== b < 0;
    cut[2] = !one ? -1 : a >= 0 ? a : b;
    cut[3] = !one
      ? -1
      : a >= 0
        ? (spans[2 * VALUE + 1] as number)
        : (spans[2 * METRIC_VALUE + 1] as number);
    return cut;
  }

  /**
   * Through JSON.parse and every rule. `scanned`: the spans hold the line's series fields; they
   * are remembered when the row is valid and the line holds no escape or control character
   * (then every string really ended at the next quote).
   */
  private slow(
    buf: Buffer,
    at: number,
    end: number,
    sink: RowSink,
    scanned: boolean,
  ): Known | undefined {
    const row = ndjsonRow(textOf(buf, at, end), this.line);
    if (row === null) return undefined;
    const plainEnd = end > at && buf[end - 1] === CR ? end - 1 : end;
    if (scanned && plain(buf, at, plainEnd)) return this.checker.check(row, sink, buf, this.spans);
    this.checker.check(row, sink);
    return undefined;
  }
}

// The series fields come first in the spans: SeriesTable reads them there.
if (SERIES_FIELDS !== TIMESTAMP) throw new Error('series fields must be the first slots');
