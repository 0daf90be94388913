// CSV rows, read where they lie in the bytes of the input. A line of the shape of its series'
// last line (the same bytes around a plain time and value) costs three in-place comparisons;
// another record on one line whose time and value cells are plain (unquoted) is split in place,
// its series found by its series cells' bytes. The header, records across lines and anything
// else are decoded and go through the RFC 4180 parser (csv.ts) and the full rules, so every
// answer is the same. UTF-8 keeps every byte of a multi-byte character above 0x7f, so no byte
// of one is ever taken for a quote, a comma or a line break.
import { StringDecoder } from 'node:string_decoder';
import { TimeKind, type RowChecker, type RowSink } from './check.js';
import { CsvParser, MAX_RECORD_CHARS, type CsvRecord } from './csv.js';
import { csvHeader, csvRow, type CsvColumn } from './rows.js';
import { byteAt, digitsEnd, equalAt, textOf } from './bytes.js';
import { SERIES_FIELDS } from './series-table.js';

const LF = 10;
const CR = 13;
const QUOTE = 34;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const NEWLINE = Buffer.from('\n');
const EMPTY: Buffer = Buffer.alloc(0);
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const UPPER_E = 69;
const LOWER_E = 101;

// What a column holds, for the line path: one of the series fields (SeriesTable's order), or
// the time or a value.
const TIME = SERIES_FIELDS;
const METRIC_VALUE = SERIES_FIELDS + 1;
const VALUE = SERIES_FIELDS + 2;
const ROLES: Record<CsvColumn, number> = {
  metric_name: 0,
  tags: 1,
  source_agent_id: 2,
  instance_id: 3,
  timestamp: TIME,
  metric_value: METRIC_VALUE,
  value: VALUE,
};

/**
 * Where the decimal number starting at `at` ends, as a CSV value cell reads one (rows.ts:
 * `[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?`), or -1 when none starts there.
 */
function decimalEnd(buf: Buffer, at: number, end: number): number {
  let i = at;
  const sign = i < end ? buf[i] : -1;
  if (sign === PLUS || sign === MINUS) i += 1;
  const intEnd = digitsEnd(buf, i, end);
  let any = intEnd > i;
  i = intEnd;
  if (i < end && buf[i] === DOT) {
    const fracEnd = digitsEnd(buf, i + 1, end);
    any ||= fracEnd > i + 1;
    i = fracEnd;
  }
  if (!any) return -1;
  const e = i < end ? buf[i] : -1;
  if (e === LOWER_E || e === UPPER_E) {
    let j = i + 1;
    if (j < end && (buf[j] === PLUS || buf[j] === MINUS)) j += 1;
    const expEnd = digitsEnd(buf, j, end);
    if (expEnd > j) i = expEnd;
  }
  return i;
}

export class CsvReader {
  private readonly parser = new CsvParser();
  private columns: CsvColumn[] | undefined;
  private roles = new Int8Array(0);
  private buf: Buffer = EMPTY;
  private pos = 0;
  // The start of a line that goes on in the next chunk, and how many bytes it has so far.
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** Set while a line too long to hold goes to the parser as it comes. */
  private streaming: StringDecoder | null = null;
  private line = 0;
  /** Records the parser finished, not yet handed to the sink. */
  private pending: CsvRecord[] = [];
  private pendingAt = 0;
  private finishing = false;
  private ended = false;
  // Where the line path found the cells of the current line: start and end per role.
  private readonly cells = new Int32Array(2 * (VALUE + 1));
  /** The time and value cells of the current line: start and end of each, and 1 if not digits. */
  private readonly cut = new Int32Array(5);

  constructor(
    private readonly checker: RowChecker,
    private readonly name: string,
  ) {}

  /** The next chunk of bytes; the previous one must have been read to its end. */
  feed(bytes: Buffer): void {
    this.buf = bytes;
    this.pos = 0;
  }

  /** After the last chunk: what is left is read by the next read() calls. */
  finish(): void {
    this.finishing = true;
    this.feed(this.carryBytes > 0 || this.streaming !== null ? NEWLINE : EMPTY);
  }

  /** Reads rows into the sink until the chunk is used up (false) or the sink is full (true). */
  read(sink: RowSink): boolean {
    for (;;) {
      while (this.pendingAt < this.pending.length) {
        if (sink.full) return true;
        this.record(this.pending[this.pendingAt++] as CsvRecord, sink);
      }
      this.pending = [];
      this.pendingAt = 0;
      if (sink.full) return true;
      const buf = this.buf;
      const start = this.pos;
      const nl = buf.indexOf(LF, start);
      if (nl === -1) {
        if (start < buf.length) this.rest(buf.subarray(start));
        this.pos = buf.length;
        if (!this.finishing || this.ended) return false;
        this.ended = true;
        this.parser.end(this.pending);
        if (this.pending.length === 0 && this.columns === undefined)
          csvHeader(undefined, this.name);
        continue;
      }
      this.line += 1;
      this.pos = nl + 1;
      if (this.streaming !== null) {
        // The end of a line too long to hold: the rest of it to the parser.
        this.parser.push(
          `${this.streaming.write(buf.subarray(start, nl))}${this.streaming.end()}\n`,
          this.pending,
        );
        this.streaming = null;
      } else if (this.carryBytes > 0) {
        this.carry.push(buf.subarray(start, nl));
        const whole = Buffer.concat(this.carry);
        this.carry = [];
        this.carryBytes = 0;
        this.lineOf(whole, 0, whole.length, sink);
      } else {
        this.lineOf(buf, start, nl, sink);
      }
    }
  }

  /**
   * The end of a chunk without a line break: kept for the next one; past what a line may hold,
   * handed to the parser as it comes (it reports the record as too long, holding no more).
   */
  private rest(part: Buffer): void {
    if (this.streaming === null) {
      this.carryBytes += part.length;
      // A UTF-16 code unit takes at most 3 bytes: up to 3 × the limit the line may still fit.
      if (this.carryBytes <= 3 * MAX_RECORD_CHARS) {
        this.carry.push(Buffer.from(part));
        return;
      }
      this.streaming = new StringDecoder('utf8');
      if (!this.parser.inRecord) this.parser.startAt(this.line + 1);
      this.parser.push(this.streaming.write(Buffer.concat(this.carry)), this.pending);
      this.carry = [];
      this.carryBytes = 0;
    }
    this.parser.push(this.streaming.write(part), this.pending);
  }

  /** One physical line, buf[at, end) without its line break; a first line loses a BOM. */
  private lineOf(buf: Buffer, at: number, end: number, sink: RowSink): void {
    if (this.line === 1 && equalAt(buf, at, BOM)) at += BOM.length;
    if (
      !this.parser.inRecord &&
      this.columns !== undefined &&
      end - at <= MAX_RECORD_CHARS &&
      this.fast(buf, at, end, sink)
    )
      return;
    if (!this.parser.inRecord) this.parser.startAt(this.line);
    this.parser.push(`${textOf(buf, at, end)}\n`, this.pending);
  }

  private record(record: CsvRecord, sink: RowSink): void {
    if (this.columns === undefined) {
      this.columns = csvHeader(record, this.name);
      this.roles = Int8Array.from(this.columns, (c) => ROLES[c]);
      return;
    }
    this.checker.check(csvRow(this.columns, record), sink);
  }

  /**
   * The line path: true when the line went to the sink or the parser as one record; false
   * when it is no plain record on one line (the caller hands it to the parser then).
   */
  private fast(buf: Buffer, at: number, end: number, sink: RowSink): boolean {
    if (end > at && buf[end - 1] === CR) end -= 1;
    const table = this.checker.known;
    // The quick way: the line has the shape of the last line of the series expected.
    const shaped = table.shaped(buf, at, end, decimalEnd);
    if (
      shaped !== undefined &&
      this.checker.take(shaped, buf, table.holes, TimeKind.Cell, sink, this.line)
    )
      return true;
    if (!this.split(buf, at, end)) return false;
    const cut = this.cutOut(buf);
    // The series cells are the first SERIES_FIELDS pairs: the spans SeriesTable compares.
    const known = table.find(buf, this.cells);
    if (known !== undefined && this.checker.take(known, buf, cut, TimeKind.Cell, sink, this.line)) {
      table.learn(known, buf, at, end, cut);
      return true;
    }
    // Through the parser and every rule; a valid row's series is remembered by its cells.
    const record: CsvRecord[] = [];
    this.parser.startAt(this.line);
    this.parser.push(`${textOf(buf, at, end)}\n`, record);
    if (record.length !== 1 || this.columns === undefined) {
      this.pending.push(...record);
      return true;
    }
    const valid = this.checker.check(
      csvRow(this.columns, record[0] as CsvRecord),
      sink,
      buf,
      this.cells,
    );
    if (valid !== undefined) table.learn(valid, buf, at, end, cut);
    return true;
  }

  /** Finds the cells of a one-line record into `cells`; false if the line is not one. */
  private split(buf: Buffer, at: number, end: number): boolean {
    const roles = this.roles;
    const cells = this.cells;
    cells.fill(-1);
    let i = at;
    for (let k = 0; k < roles.length; k++) {
      const role = roles[k] as number;
      let to: number;
      if (i < end && buf[i] === QUOTE) {
        let j = i + 1;
        for (;;) {
          const q = buf.indexOf(QUOTE, j);
          if (q === -1 || q >= end) return false; // the record goes on after this line
          if (q + 1 < end && buf[q + 1] === QUOTE) j = q + 2;
          else {
            to = q + 1;
            break;
          }
        }
        if (to < end && buf[to] !== COMMA) return false;
      } else {
        const comma = buf.indexOf(COMMA, i);
        to = comma === -1 || comma > end ? end : comma;
      }
      cells[2 * role] = i;
      cells[2 * role + 1] = to;
      if (k < roles.length - 1) {
        if (to >= end) return false; // fewer cells than the header
        i = to + 1;
      } else if (to !== end) return false; // more cells than the header
    }
    return true;
  }

  /**
   * The time cell and the one value cell (-1 when the time cell is empty or quoted, or the
   * value is not exactly one unquoted decimal); the time is a number when it is all digits.
   */
  private cutOut(buf: Buffer): Int32Array {
    const cells = this.cells;
    const cut = this.cut;
    const from = cells[2 * TIME] as number;
    const to = cells[2 * TIME + 1] as number;
    const plainTime = from >= 0 && to > from && byteAt(buf, from) !== QUOTE;
    cut[0] = plainTime ? from : -1;
    cut[1] = to;
    cut[4] = plainTime && digitsEnd(buf, from, to) === to ? 0 : 1;
    const a = cells[2 * METRIC_VALUE] as number;
    const b = cells[2 * VALUE] as number;
    const aSet = a >= 0 && (cells[2 * METRIC_VALUE + 1] as number) > a;
    const bSet = b >= 0 && (cells[2 * VALUE + 1] as number) > b;
    const vAt = aSet ? a : b;
    const vEnd = (aSet ? cells[2 * METRIC_VALUE + 1] : cells[2 * VALUE + 1]) as number;
    const one = aSet !== bSet && decimalEnd(buf, vAt, vEnd) === vEnd;
    cut[2] = one ? vAt : -1;
    cut[3] = vEnd;
    return cut;
  }
}
