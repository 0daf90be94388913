// A streaming RFC 4180 CSV parser that knows the line each record starts on.
/** A longer line (NDJSON) or record (CSV) is rejected without being held in memory. */
export const MAX_RECORD_CHARS = 1 << 20;

export interface CsvRecord {
  /** Line where the record starts (1-based). */
  line: number;
  fields: string[];
  /** Why the record is malformed, when it is. */
  error?: string;
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;
const START = 0; // at the start of a field
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_SEEN = 3; // a quote inside a quoted field: a doubled quote or the closing one

/**
 * RFC 4180 CSV, streamed: fields separated by commas, records by LF or CRLF; a field in double
 * quotes may hold commas, line breaks and doubled quotes (""). Lines are counted physically, so
 * each record knows the line it starts on. Records longer than the limit are reported, not held.
 */
export class CsvParser {
  private state = START;
  private fields: string[] = [];
  private field = '';
  private line = 1;
  private recordLine = 1;
  private quoteLine = 1;
  private chars = 0;
  private quoted = false;
  private error: string | undefined;

  constructor(private readonly maxRecordChars = MAX_RECORD_CHARS) {}

  /** Parses a chunk of text; the complete records in it are appended to `out`. */
  push(text: string, out: CsvRecord[]): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (this.state === START) {
        if (text.charCodeAt(i) === QUOTE) {
          this.state = QUOTED;
          this.quoted = true;
          this.quoteLine = this.line;
          i += 1;
        } else {
          this.state = UNQUOTED;
        }
      } else if (this.state === UNQUOTED) {
        const from = i;
        let c = 0;
        while (i < n) {
          c = text.charCodeAt(i);
          if (c === COMMA || c === LF) break;
          i += 1;
        }
        this.append(text, from, i);
        if (i === n) break;
        i += 1;
        if (c === COMMA) this.endField(false);
        else this.endRecord(true, out);
      } else if (this.state === QUOTED) {
        const from = i;
        while (i < n) {
          const c = text.charCodeAt(i);
          if (c === QUOTE) break;
          if (c === LF) this.line += 1;
          i += 1;
        }
        this.append(text, from, i);
        if (i === n) break;
        i += 1;
        this.state = QUOTE_SEEN;
      } else {
        const c = text.charCodeAt(i);
        i += 1;
        if (c === QUOTE) {
          this.append('"', 0, 1);
          this.state = QUOTED;
        } else if (c === COMMA) this.endField(false);
        else if (c === LF) this.endRecord(false, out);
        else if (c !== CR) {
          this.error ??= `unexpected character after the closing quote of field ${this.fields.length + 1}`;
          this.state = UNQUOTED;
          i -= 1;
        }
      }
    }
  }

  /** True between the first character of a record and its end. */
  get inRecord(): boolean {
    return this.state !== START || this.fields.length > 0 || this.chars > 0 || this.quoted;
  }

  /**
   * Resumes at a record boundary on physical line `line`, after lines read elsewhere (the
   * import reads plain lines itself and hands this parser the rest).
   */
  startAt(line: number): void {
    this.line = line;
    this.recordLine = line;
  }

  /** The last record, when the text does not end with a line break. */
  end(out: CsvRecord[]): void {
    if (this.state === QUOTED) {
      this.error ??= `unterminated quoted field (the quote opens on line ${this.quoteLine})`;
    }
    if (this.state !== START || this.fields.length > 0) this.endRecord(true, out, false);
  }

  private append(text: string, from: number, to: number): void {
    if (to <= from) return;
    this.chars += to - from;
    if (this.chars > this.maxRecordChars) {
      this.error ??= `is longer than ${this.maxRecordChars} characters`;
      this.field = '';
      return;
    }
    this.field += from === 0 && to === text.length ? text : text.slice(from, to);
  }

  private endField(stripCr: boolean): void {
    let f = this.field;
    if (stripCr && f.charCodeAt(f.length - 1) === CR) f = f.slice(0, -1);
    this.fields.push(f);
    this.field = '';
    this.state = START;
  }

  private endRecord(stripCr: boolean, out: CsvRecord[], lineBreak = true): void {
    this.endField(stripCr);
    const blank = this.fields.length === 1 && this.fields[0] === '' && !this.quoted;
    if (!blank || this.error !== undefined) {
      const record: CsvRecord = { line: this.recordLine, fields: this.fields };
      if (this.error !== undefined) record.error = this.error;
      out.push(record);
    }
    if (lineBreak) this.line += 1;
    this.recordLine = this.line;
    this.fields = [];
    this.chars = 0;
    this.quoted = false;
    this.error = undefined;
  }
}
