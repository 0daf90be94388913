// NDJSON rows, read in place. A line that is one flat object of the import's fields (what
// JSON.stringify and most exporters write) is scanned where it lies, jumping from quote to quote
// (indexOf) and building no object; its series comes from an earlier line with the same series
// text. Any other line is parsed and checked in full, so every answer is the same. Why a scan
// that takes every string to end at the next quote is exact without looking for escapes or
// control characters: each field is either compared with text known to hold none (the series
// fields, with a line that passed JSON.parse and was checked for both before it was
// remembered), read strictly (digits, the ISO form, the key names) or refused; a string cut
// short at an escaped quote ends in a backslash, which none of those accepts.
import type { RowChecker, RowSink } from './check.js';
import { MAX_RECORD_CHARS } from './csv.js';
import { ndjsonRow, type FieldIssue } from './rows.js';
import { decimalValue, digitsEnd, NINE, smallInteger, ZERO } from './scan.js';
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

// What the series text of a line remembered may not hold: a control character (JSON.parse
// refuses one raw in a string) or a backslash (an escape).
// eslint-disable-next-line no-control-regex -- control characters are what it must find
const SPECIAL = /[\u0000-\u001f\\]/;

// The fields a line may hold, by slot; the series fields first, in SeriesTable's order.
const METRIC_NAME = 0;
const TAGS = 1;
const AGENT = 2;
const INSTANCE = 3;
const TIMESTAMP = 4;
const METRIC_VALUE = 5;
const VALUE = 6;
const FIELDS = [
  'metric_name',
  'tags',
  'source_agent_id',
  'instance_id',
  'timestamp',
  'metric_value',
  'value',
];

const tooLong: FieldIssue = {
  field: 'line',
  reason: `is longer than ${MAX_RECORD_CHARS} characters`,
};

function skipSpaces(text: string, i: number, end: number): number {
  if (text.charCodeAt(i) !== SPACE) return i;
  while (i < end && text.charCodeAt(i) === SPACE) i += 1;
  return i;
}

/** End of the string whose opening quote is at `i` as the scan takes it (the next quote), or -1. */
function stringEnd(text: string, i: number, end: number): number {
  const q = text.indexOf('"', i + 1);
  return q < 0 || q >= end ? -1 : q + 1;
}

/** End of the JSON number starting at `i` (RFC 8259 grammar), or -1. */
function numberEnd(text: string, i: number, end: number): number {
  if (text.charCodeAt(i) === MINUS) i += 1;
  const first = text.charCodeAt(i);
  if (first === ZERO) i += 1;
  else if (first > ZERO && first <= NINE) i = digitsEnd(text, i + 1, end);
  else return -1;
  if (text.charCodeAt(i) === DOT) {
    const from = i + 1;
    i = digitsEnd(text, from, end);
    if (i === from) return -1;
  }
  const e = text.charCodeAt(i);
  if (e === LOWER_E || e === UPPER_E) {
    i += 1;
    const sign = text.charCodeAt(i);
    if (sign === PLUS || sign === MINUS) i += 1;
    const from = i;
    i = digitsEnd(text, from, end);
    if (i === from) return -1;
  }
  return i > end ? -1 : i;
}

/** End of a tags object of string values only (`{}` included), or -1. */
function tagsEnd(text: string, i: number, end: number): number {
  i = skipSpaces(text, i + 1, end);
  if (text.charCodeAt(i) === CLOSE) return i + 1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return -1;
    i = stringEnd(text, i, end);
    if (i < 0) return -1;
    i = skipSpaces(text, i, end);
    if (text.charCodeAt(i) !== COLON) return -1;
    i = skipSpaces(text, i + 1, end);
    if (text.charCodeAt(i) !== QUOTE) return -1;
    i = stringEnd(text, i, end);
    if (i < 0) return -1;
    i = skipSpaces(text, i, end);
    const c = text.charCodeAt(i);
    if (c === CLOSE) return i + 1;
    if (c !== COMMA) return -1;
    i = skipSpaces(text, i + 1, end);
  }
}

/** The slot of the key text[at, end), or -1 for any other key. */
function slotOf(text: string, at: number, end: number): number {
  let slot: number;
  switch (end - at) {
    case 9:
      slot = TIMESTAMP;
      break;
    case 11:
      slot = text.charCodeAt(at) === 105 ? INSTANCE : METRIC_NAME; // i
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
  return text.startsWith(FIELDS[slot] as string, at) ? slot : -1;
}

/**
 * Finds the fields of the line text[at, end) into `spans` (start and end per slot, -1 when
 * absent): true when it looks like one object of known fields, each once, with plain values
 * (strings, numbers, tags an object of strings). See the top of the file for escapes.
 */
function scan(text: string, at: number, end: number, spans: Int32Array): boolean {
  for (let s = 0; s < FIELDS.length; s++) spans[2 * s] = -1;
  let i = skipSpaces(text, at, end);
  if (text.charCodeAt(i) !== OPEN) return false;
  i = skipSpaces(text, i + 1, end);
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return false;
    const keyEnd = stringEnd(text, i, end);
    if (keyEnd < 0) return false;
    const slot = slotOf(text, i + 1, keyEnd - 1);
    if (slot < 0 || (spans[2 * slot] as number) >= 0) return false;
    i = skipSpaces(text, keyEnd, end);
    if (text.charCodeAt(i) !== COLON) return false;
    i = skipSpaces(text, i + 1, end);
    const c = text.charCodeAt(i);
    let valueEnd: number;
    if (c === QUOTE)
      valueEnd =
        slot === TAGS || slot === METRIC_VALUE || slot === VALUE ? -1 : stringEnd(text, i, end);
    else if (c === OPEN) valueEnd = slot === TAGS ? tagsEnd(text, i, end) : -1;
    else valueEnd = slot === TAGS || slot === METRIC_NAME ? -1 : numberEnd(text, i, end);
    if (valueEnd < 0) return false;
    spans[2 * slot] = i;
    spans[2 * slot + 1] = valueEnd;
    i = skipSpaces(text, valueEnd, end);
    const next = text.charCodeAt(i);
    if (next === CLOSE) return skipSpaces(text, i + 1, end) === end;
    if (next !== COMMA) return false;
    i = skipSpaces(text, i + 1, end);
  }
}

export class NdjsonReader {
  private text = '';
  private pos = 0;
  private carry = '';
  private overflow = false;
  private line = 0;
  private readonly spans = new Int32Array(2 * FIELDS.length);
  /** The time and value of a scanned line: start and end of each, and 1 if the time is a string. */
  private readonly cut = new Int32Array(5);

  constructor(private readonly checker: RowChecker) {}

  /** The next chunk of text; the previous one must have been read to its end. */
  feed(text: string): void {
    this.text = text;
    this.pos = 0;
  }

  /** After the last chunk: a last line without a line break is read by the next read(). */
  finish(): void {
    this.feed(this.carry.length > 0 || this.overflow ? '\n' : '');
  }

  /** Reads rows into the sink until the chunk is used up (false) or the sink is full (true). */
  read(sink: RowSink): boolean {
    const text = this.text;
    while (!sink.full) {
      const start = this.pos;
      const nl = text.indexOf('\n', start);
      if (nl === -1) {
        if (!this.overflow) {
          this.carry += text.slice(start);
          if (this.carry.length > MAX_RECORD_CHARS) {
            this.overflow = true;
            this.carry = '';
          }
        }
        this.pos = text.length;
        return false;
      }
      this.line += 1;
      this.pos = nl + 1;
      if (this.overflow || this.carry.length + nl - start > MAX_RECORD_CHARS) {
        sink.refuse(this.line, [tooLong]);
      } else if (this.carry.length > 0) {
        const whole = this.carry + text.slice(start, nl);
        this.row(whole, 0, whole.length, sink);
      } else {
        this.row(text, start, nl, sink);
      }
      this.carry = '';
      this.overflow = false;
    }
    return true;
  }

  private row(text: string, at: number, end: number, sink: RowSink): void {
    // A line break's CR is whitespace to JSON.
    let scanEnd = end;
    if (scanEnd > at && text.charCodeAt(scanEnd - 1) === CR) scanEnd -= 1;
    const table = this.checker.known;
    // The quick way: the line has the shape of the last line of the series expected.
    const shaped = table.shaped(text, at, scanEnd, numberEnd);
    if (shaped !== undefined) {
      const h = table.holes;
      const textTime = (shaped.shape?.isoLength ?? 0) > 0;
      if (
        this.take(
          shaped,
          text,
          h[0] as number,
          h[1] as number,
          textTime,
          h[2] as number,
          h[3] as number,
          sink,
        )
      )
        return;
    }
    if (!scan(text, at, scanEnd, this.spans)) {
      this.slow(text, at, end, sink, false);
      return;
    }
    const cut = this.cutOut(text);
    const [timeAt, timeEnd, valueAt, valueEnd, textTime] = cut;
    const known = table.find(text, this.spans);
    const taken =
      known !== undefined &&
      this.take(
        known,
        text,
        timeAt as number,
        timeEnd as number,
        textTime === 1,
        valueAt as number,
        valueEnd as number,
        sink,
      );
    const valid = taken ? known : this.slow(text, at, end, sink, true);
    if (valid !== undefined && (timeAt as number) >= 0) table.learn(valid, text, at, scanEnd, cut);
  }

  /** The scanned line's time and value (-1 where absent, or where value is not exactly one). */
  private cutOut(text: string): Int32Array {
    const spans = this.spans;
    const cut = this.cut;
    const from = spans[2 * TIMESTAMP] as number;
    const to = spans[2 * TIMESTAMP + 1] as number;
    const quoted = from >= 0 && text.charCodeAt(from) === QUOTE;
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
   * A row of `k` whose time (a string's contents when `textTime`, else a number) and value are
   * at these places, if both pass the rules: then it goes to the sink.
   */
  private take(
    k: Known,
    text: string,
    timeAt: number,
    timeEnd: number,
    textTime: boolean,
    valueAt: number,
    valueEnd: number,
    sink: RowSink,
  ): boolean {
    if (timeAt < 0 || valueAt < 0) return false;
    let ts: number | undefined;
    if (textTime) ts = this.checker.time(text, timeAt, timeEnd);
    else {
      const n = smallInteger(text, timeAt, timeEnd);
      ts = this.checker.time(Number.isNaN(n) ? Number(text.slice(timeAt, timeEnd)) : n);
    }
    if (ts === undefined) return false;
    const value = decimalValue(text, valueAt, valueEnd);
    if (!Number.isFinite(value)) return false;
    this.checker.known.saw(k);
    sink.add(k.def, ts, value, this.line);
    return true;
  }

  /**
   * Through JSON.parse and every rule. `scanned`: the spans hold the line's series fields; they
   * are remembered when the row is valid and the line holds no escape or control character
   * (then every string really ended at the next quote).
   */
  private slow(
    text: string,
    at: number,
    end: number,
    sink: RowSink,
    scanned: boolean,
  ): Known | undefined {
    const line = at === 0 && end === text.length ? text : text.slice(at, end);
    const row = ndjsonRow(line, this.line);
    if (row === null) return undefined;
    const plain = line.charCodeAt(line.length - 1) === CR ? line.slice(0, -1) : line;
    if (scanned && !SPECIAL.test(plain)) return this.checker.check(row, sink, text, this.spans);
    this.checker.check(row, sink);
    return undefined;
  }
}

// The series fields come first in the spans: SeriesTable reads them there.
if (SERIES_FIELDS !== TIMESTAMP) throw new Error('series fields must be the first slots');
