// Imports history: `npm run import -- FILE [--format ndjson|csv] [--batch N]` (FILE `-` is stdin).
//
// Rows carry the plan's columns: timestamp (ISO-8601 with a zone, or epoch milliseconds),
// metric_name, metric_value (or value), tags (a JSON object; in CSV a JSON string), source_agent_id,
// instance_id. Every row passes the ingest rules (validateBatch, one row at a time) and, because
// history without a time would be stored again by every run, must have a timestamp. A row with
// the series and millisecond of an earlier row of its batch is a duplicate when the value is the
// same and refused when it is not (ingest refuses such a request: one value would be lost).
// A row that would create a series past MAX_SERIES or MAX_SERIES_PER_METRIC is refused as
// ingest refuses it (counted in the same Redis registry; series already stored always pass).
// Bad rows are reported on stderr (file:line: field: reason, the first 100) and skipped.
//
// The file is streamed: constant memory whatever its size (~150 MB peak RSS). Points are
// written with PointStore.write in batches of --batch (10,000), one transaction each, as
// buffer entries of 1,000 points like a flush writes, so rollup_1m is updated exactly as a
// flush does. While one batch is being written the next is parsed; reading then waits for that
// write. The primary key skips points already stored, so running an import twice stores
// nothing twice (they are counted as duplicates). Daily partitions of `points` are created for
// the days imported. At the end the aggregate job runs once, so rollup_1h covers the closed
// hours imported.
//
// Exit codes: 0 every row imported (or already stored), 1 fatal error (only whole batches were
// stored; running it again is safe), 2 some rows rejected, 130 interrupted (SIGINT/SIGTERM: the
// rows read so far are written first).
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../src/config.js';
import { createDb, type Db } from '../src/infra/db.js';
import { ensurePostgres, redisFor, type Service } from '../src/infra/embedded.js';
import { keysFor } from '../src/infra/keys.js';
import { closeRedis, createRedis } from '../src/infra/redis.js';
import type { Logger } from '../src/infra/logger.js';
import { migrate } from '../src/metrics/schema.js';
import { aggregate } from '../src/jobs/aggregate.js';
import {
  decodeEntry,
  encodeEntry,
  ENTRY_POINTS,
  type DecodedEntry,
  type EncodedEntry,
} from '../src/metrics/buffer.js';
import { validateBatch, type Point } from '../src/metrics/point.js';
import { sql } from '../src/metrics/queries.js';
import { seriesDef } from '../src/metrics/series.js';
import {
  refusalReason,
  SeriesRegistry,
  type SeriesRefusal,
} from '../src/metrics/series-registry.js';
import { PointStore, storedSeries, type WriteResult } from '../src/metrics/store.js';
import { DAY } from '../src/infra/time.js';

export const FORMATS = ['ndjson', 'csv'] as const;
export type Format = (typeof FORMATS)[number];

export const DEFAULT_BATCH = 10_000;
const MAX_BATCH = 100_000;
/** Rejected rows printed in full; the rest are only counted. */
export const MAX_REPORTED = 100;
/** A longer line (NDJSON) or record (CSV) is rejected without being held in memory. */
const MAX_RECORD_CHARS = 1 << 20;
const READ_CHUNK = 64 * 1024;

const CSV_COLUMNS = [
  'timestamp',
  'metric_name',
  'metric_value',
  'value',
  'tags',
  'source_agent_id',
  'instance_id',
] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

/** A fatal error: the import stops (exit 1). Batches committed before it stay stored. */
export class ImportError extends Error {
  override name = 'ImportError';
}

export interface FieldIssue {
  field: string;
  reason: string;
}

export interface RejectedRow {
  /** 1-based physical line in the file; for CSV the line where the record starts. */
  line: number;
  errors: FieldIssue[];
}

export interface ImportResult {
  /** The file as named in messages (`<stdin>` for `-`). */
  name: string;
  format: Format;
  rowsRead: number;
  /** Points really inserted by this run. */
  imported: number;
  /** Valid rows whose point was already stored (an earlier run, or twice in this file). */
  duplicates: number;
  rejected: number;
  bytesRead: number;
  elapsedMs: number;
  /** Closed hours whose rollup_1h the aggregate run rebuilt. */
  rollupHours: number;
  /** The first MAX_REPORTED rejected rows, in file order. */
  rejectedRows: RejectedRow[];
  interrupted: boolean;
  exitCode: 0 | 2 | 130;
}

/** What runImport needs of PointStore (a test can hand in a slow one). */
export interface PointWriter {
  write(entries: DecodedEntry[]): Promise<WriteResult>;
}

/** Where messages and progress go: process.stderr, or anything with write(). */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ImportOptions {
  /** A path, or `-` for stdin. */
  file: string;
  /** ndjson or csv; by default from the extension (.ndjson, .jsonl, .csv). */
  format?: string;
  batchSize?: number;
  db: Db;
  log: Logger;
  acceptMs: number;
  /** Read for `-` (default process.stdin). */
  stdin?: Readable;
  /** Rejected rows and progress (default process.stderr). */
  stderr?: Output;
  /** auto: a bar when stderr is a TTY, else a line every progressEveryMs. */
  progress?: 'auto' | 'none';
  progressEveryMs?: number;
  store?: PointWriter;
  /** Aborting stops reading; the rows read so far are written, then the import ends (130). */
  signal?: AbortSignal;
  /**
   * MAX_SERIES and MAX_SERIES_PER_METRIC, as ingest enforces them: a row that would create a
   * series past a limit is rejected (field metric_name). None without.
   */
  series?: SeriesRegistry;
}

// ---------------------------------------------------------------------------------------------
// Input

export interface Input {
  name: string;
  format: Format;
  stream: Readable;
  /** Bytes, when the input is a regular file. */
  size: number | null;
}

function isFormat(v: string): v is Format {
  return (FORMATS as readonly string[]).includes(v);
}

export function checkFormat(format: string | undefined): Format | undefined {
  if (format === undefined) return undefined;
  const f = format.toLowerCase();
  if (!isFormat(f)) throw new ImportError(`unknown --format "${format}": expected ndjson or csv`);
  return f;
}

export function formatFromName(file: string): Format {
  if (file === '-') throw new ImportError('reading stdin needs --format ndjson or --format csv');
  const ext = path.extname(file).toLowerCase();
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  if (ext === '.csv') return 'csv';
  throw new ImportError(
    `cannot tell the format of ${file} from its extension (.ndjson, .jsonl or .csv): pass --format ndjson or --format csv`,
  );
}

/** Opens the file (or stdin) and settles its format; every "cannot start" error is here. */
export async function openInput(
  file: string,
  format: string | undefined,
  stdin: Readable = process.stdin,
): Promise<Input> {
  const given = checkFormat(format);
  if (file === '-')
    return { name: '<stdin>', format: given ?? formatFromName(file), stream: stdin, size: null };
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImportError(`file not found: ${file}`);
    if (code === 'EACCES' || code === 'EPERM')
      throw new ImportError(`cannot read ${file}: permission denied`);
    throw new ImportError(`cannot open ${file}: ${(err as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new ImportError(`${file} is a directory, not a file`);
    const resolved = given ?? formatFromName(file);
    const stream = handle.createReadStream({ highWaterMark: READ_CHUNK });
    return { name: file, format: resolved, stream, size: st.isFile() ? st.size : null };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** The input as text, BOM removed, counting the bytes taken so far. */
async function* textOf(input: Input, counter: { bytesRead: number }): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let first = true;
  try {
    for await (const chunk of input.stream as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      counter.bytesRead += buf.length;
      let text = decoder.write(buf);
      if (first && text.length > 0) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      if (text.length > 0) yield text;
    }
  } catch (err) {
    if (err instanceof ImportError) throw err;
    throw new ImportError(
      `reading ${input.name} failed after ${counter.bytesRead} bytes: ${(err as Error).message}`,
    );
  }
  const rest = decoder.end();
  if (rest.length > 0) yield rest;
}

/** A row as read: the raw point to validate, and problems found while reading it. */
interface Row {
  line: number;
  point?: unknown;
  errors?: FieldIssue[];
}

const tooLong: FieldIssue = {
  field: 'line',
  reason: `is longer than ${MAX_RECORD_CHARS} characters`,
};

function ndjsonRow(text: string, line: number): Row | null {
  const s = text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text;
  if (s.trim() === '') return null;
  try {
    return { line, point: JSON.parse(s) as unknown };
  } catch (err) {
    return {
      line,
      errors: [{ field: 'json', reason: `is not valid JSON (${(err as Error).message})` }],
    };
  }
}

/** NDJSON: one JSON object per line; blank lines are skipped. Rows come per chunk read. */
async function* ndjsonRows(text: AsyncIterable<string>): AsyncGenerator<Row[]> {
  let carry = '';
  let overflow = false;
  let line = 0;
  for await (const chunk of text) {
    const rows: Row[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl === -1) {
        if (!overflow) {
          carry += chunk.slice(start);
          if (carry.length > MAX_RECORD_CHARS) {
            overflow = true;
            carry = '';
          }
        }
        break;
      }
      line += 1;
      if (overflow || carry.length + nl - start > MAX_RECORD_CHARS) {
        rows.push({ line, errors: [tooLong] });
      } else {
        const row = ndjsonRow(
          carry.length > 0 ? carry + chunk.slice(start, nl) : chunk.slice(start, nl),
          line,
        );
        if (row) rows.push(row);
      }
      carry = '';
      overflow = false;
      start = nl + 1;
    }
    if (rows.length > 0) yield rows;
  }
  if (overflow) yield [{ line: line + 1, errors: [tooLong] }];
  else if (carry.length > 0) {
    const row = ndjsonRow(carry, line + 1);
    if (row) yield [row];
  }
}

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

/** The columns of a CSV header row, or an ImportError naming what is wrong with it. */
export function csvHeader(record: CsvRecord | undefined, name: string): CsvColumn[] {
  if (record === undefined)
    throw new ImportError(
      `${name} is empty: a CSV file starts with a header row naming its columns`,
    );
  if (record.error !== undefined)
    throw new ImportError(`bad CSV header on line ${record.line}: ${record.error}`);
  const names = record.fields.map((f) => f.trim());
  const problems: string[] = [];
  const missing: string[] = [];
  if (!names.includes('timestamp')) missing.push('timestamp');
  if (!names.includes('metric_name')) missing.push('metric_name');
  if (!names.includes('metric_value') && !names.includes('value'))
    missing.push('metric_value (or value)');
  if (missing.length > 0) problems.push(`missing required column(s) ${missing.join(', ')}`);
  const unknown = names.filter((n) => !(CSV_COLUMNS as readonly string[]).includes(n));
  if (unknown.length > 0)
    problems.push(`unknown column(s) ${unknown.map((n) => JSON.stringify(n)).join(', ')}`);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length > 0) problems.push(`column(s) named twice: ${[...new Set(twice)].join(', ')}`);
  if (problems.length > 0)
    throw new ImportError(
      `bad CSV header on line ${record.line}: ${problems.join('; ')}. ` +
        `The first row must name the columns: ${CSV_COLUMNS.join(', ')} ` +
        `(timestamp, metric_name and metric_value or value required)`,
    );
  return names as CsvColumn[];
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^([+-]?)(nan|inf|infinity)$/i;
const EPOCH_MS = /^[+-]?\d+(\.\d+)?$/;

/** A CSV value cell as JSON would carry it: a number when it reads as one, else the text. */
function csvNumber(text: string): number | string {
  if (DECIMAL.test(text)) return Number(text);
  const m = NON_FINITE.exec(text);
  if (m) return m[2]?.toLowerCase() === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity;
  return text;
}

function csvRow(columns: CsvColumn[], record: CsvRecord): Row {
  const { line, fields } = record;
  if (record.error !== undefined) return { line, errors: [{ field: 'csv', reason: record.error }] };
  if (fields.length !== columns.length)
    return {
      line,
      errors: [
        { field: 'csv', reason: `has ${fields.length} fields; the header has ${columns.length}` },
      ],
    };
  const point: Record<string, unknown> = {};
  const errors: FieldIssue[] = [];
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i] as CsvColumn;
    const cell = (fields[i] as string).trim();
    if (cell === '') continue; // an empty cell is an absent field
    if (column === 'timestamp') point.timestamp = EPOCH_MS.test(cell) ? Number(cell) : cell;
    else if (column === 'metric_value' || column === 'value') point[column] = csvNumber(cell);
    else if (column === 'tags') {
      try {
        point.tags = JSON.parse(cell) as unknown;
      } catch (err) {
        errors.push({ field: 'tags', reason: `is not valid JSON (${(err as Error).message})` });
      }
    } else point[column] = cell;
  }
  return errors.length > 0 ? { line, point, errors } : { line, point };
}

/** CSV: a header row, then one point per record. Rows come per chunk read. */
async function* csvRows(text: AsyncIterable<string>, name: string): AsyncGenerator<Row[]> {
  const parser = new CsvParser();
  let columns: CsvColumn[] | undefined;
  let records: CsvRecord[] = [];
  const rowsOf = (list: CsvRecord[]): Row[] => {
    let k = 0;
    if (columns === undefined && list.length > 0) {
      columns = csvHeader(list[0], name);
      k = 1;
    }
    const rows: Row[] = [];
    for (; k < list.length; k++) rows.push(csvRow(columns as CsvColumn[], list[k] as CsvRecord));
    return rows;
  };
  for await (const chunk of text) {
    parser.push(chunk, records);
    if (records.length > 0) {
      const rows = rowsOf(records);
      records = [];
      if (rows.length > 0) yield rows;
    }
  }
  parser.end(records);
  const rows = rowsOf(records);
  if (columns === undefined) csvHeader(undefined, name);
  if (rows.length > 0) yield rows;
}

// ---------------------------------------------------------------------------------------------
// Progress

interface Stats {
  rowsRead: number;
  imported: number;
  duplicates: number;
  rejected: number;
  bytesRead: number;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function megabytes(bytes: number): string {
  return (bytes / 1_048_576).toFixed(1);
}

function clock(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}:${String(s % 60).padStart(2, '0')}`;
  return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

class Progress {
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly out: Output,
    private readonly mode: 'bar' | 'lines' | 'none',
    private readonly everyMs: number,
    private readonly size: number | null,
    private readonly stats: Stats,
    private readonly started: number,
  ) {}

  start(): void {
    if (this.mode === 'none') return;
    this.timer = setInterval(() => this.render(), this.mode === 'bar' ? 200 : this.everyMs);
    this.timer.unref();
  }

  /** Takes the bar off the line before a message is printed; the next tick draws it again. */
  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }

  private render(): void {
    const s = this.stats;
    const elapsed = Date.now() - this.started;
    const rate = elapsed > 0 ? Math.round((s.rowsRead * 1000) / elapsed) : 0;
    const size = this.size ?? 0;
    const known = size > 0;
    const fraction = known ? Math.min(1, s.bytesRead / size) : 0;
    const eta =
      known && s.bytesRead > 0 ? clock((size - s.bytesRead) * (elapsed / s.bytesRead)) : '?';
    const bytes = known
      ? `${megabytes(s.bytesRead)}/${megabytes(size)} MB`
      : `${megabytes(s.bytesRead)} MB`;
    if (this.mode === 'bar') {
      const width = 24;
      const done = Math.round(fraction * width);
      const bar = known ? `[${'#'.repeat(done)}${'-'.repeat(width - done)}] ` : '';
      const pct = known ? `${(fraction * 100).toFixed(1).padStart(5)}% ` : '';
      let line =
        `${bar}${pct}${bytes}  ${count(rate)} rows/s  ETA ${eta}  ` +
        `${count(s.imported)} imported  ${count(s.rejected)} rejected`;
      const columns = this.out.columns ?? 120;
      if (line.length >= columns) line = line.slice(0, columns - 1);
      this.out.write(`\r${line}\x1b[K`);
      this.drawn = true;
    } else {
      const pct = known ? `${(fraction * 100).toFixed(1)}% (${bytes})` : bytes;
      this.out.write(
        `import: ${pct}, ${count(s.rowsRead)} rows read, ${count(s.imported)} imported, ` +
          `${count(s.duplicates)} already stored, ${count(s.rejected)} rejected, ` +
          `${count(rate)} rows/s, ETA ${eta}\n`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The import

interface InFlight {
  firstLine: number;
  lastLine: number;
  outcome: Promise<{ ok: true; result: WriteResult } | { ok: false; err: unknown }>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const MISSING_TIMESTAMP: FieldIssue = {
  field: 'timestamp',
  reason: 'is required in an import (a point without one would be stored again by every run)',
};

interface TrieNode {
  next: Map<string, TrieNode>;
  id?: number;
  fingerprint?: string;
}

function step(node: TrieNode, part: string): TrieNode {
  let child = node.next.get(part);
  if (child === undefined) {
    child = { next: new Map() };
    node.next.set(part, child);
  }
  return child;
}

const REPEAT_SERIES_MAX = 100_000;
/** New series asked about in one call to the series registry (rows held meanwhile). */
const ADMIT_AT_ONCE = 1_000;
/** Series remembered as admitted (or refused) by this import; past it the memory starts over. */
const ADMITTED_MAX = 200_000;

/**
 * Finds a row repeating the series and millisecond of an earlier row of the batch, as ingest
 * does within a request. Holds one batch; across batches a repeat meets the primary key and
 * counts as already stored. A series is known by its fingerprint (seriesDef, so tag order does
 * not matter), found per point through a trie of its parts as encodeEntry does: no hashing or
 * string building per row.
 */
class RepeatWindow {
  private trie: TrieNode = { next: new Map() };
  private leaves = 0;
  private ids = new Map<string, number>();
  private seen = new Map<number, Map<number, number>>();
  private lines: number[] = [];
  private values: number[] = [];
  /** The fingerprint of the series of the point check() saw last. */
  lastFingerprint = '';

  /** The earlier row with this point's series and time, if the batch holds one. */
  check(p: Point, line: number): { line: number; value: number } | undefined {
    const id = this.seriesId(p);
    let times = this.seen.get(id);
    if (times === undefined) {
      times = new Map();
      this.seen.set(id, times);
    }
    const slot = times.get(p.ts);
    if (slot !== undefined)
      return { line: this.lines[slot] as number, value: this.values[slot] as number };
    times.set(p.ts, this.lines.length);
    this.lines.push(line);
    this.values.push(p.value);
    return undefined;
  }

  /** A new batch. */
  clear(): void {
    this.seen = new Map();
    this.lines = [];
    this.values = [];
    if (this.ids.size > REPEAT_SERIES_MAX) {
      this.ids = new Map();
      this.trie = { next: new Map() };
      this.leaves = 0;
    }
  }

  private seriesId(p: Point): number {
    if (this.leaves >= REPEAT_SERIES_MAX) {
      // Only the trie starts over: ids stay valid for the rows already seen in this batch.
      this.trie = { next: new Map() };
      this.leaves = 0;
    }
    let node = step(step(step(this.trie, p.metricName), p.sourceAgentId ?? ''), p.instanceId ?? '');
    for (const k in p.tags) node = step(step(node, k), p.tags[k] as string);
    if (node.id === undefined) {
      const fingerprint = seriesDef(p).fingerprint;
      let id = this.ids.get(fingerprint);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(fingerprint, id);
      }
      node.id = id;
      node.fingerprint = fingerprint;
      this.leaves += 1;
    }
    this.lastFingerprint = node.fingerprint as string;
    return node.id;
  }
}

function utcDay(day: number): string {
  return new Date(day * DAY).toISOString().slice(0, 10);
}

/** Imports one file; resolves with the counts, or rejects with an ImportError (fatal). */
export async function runImport(opts: ImportOptions, input?: Input): Promise<ImportResult> {
  const started = Date.now();
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH)
    throw new ImportError(`--batch must be a whole number from 1 to ${count(MAX_BATCH)}`);
  const source = input ?? (await openInput(opts.file, opts.format, opts.stdin));
  const out = opts.stderr ?? process.stderr;
  const store = opts.store ?? new PointStore(opts.db);
  const stats: Stats = { rowsRead: 0, imported: 0, duplicates: 0, rejected: 0, bytesRead: 0 };
  const rejectedRows: RejectedRow[] = [];
  const mode = opts.progress === 'none' ? 'none' : out.isTTY ? 'bar' : 'lines';
  const progress = new Progress(
    out,
    mode,
    opts.progressEveryMs ?? 5_000,
    source.size,
    stats,
    started,
  );

  // Daily partitions for the days imported, so history does not pile up in points_default.
  // Days are tracked as points arrive; the missing ones are created before their batch is written.
  const ensuredDays = new Set<number>();
  let newDayLo = Infinity;
  let newDayHi = -Infinity;
  const ensurePartitions = async (): Promise<void> => {
    if (newDayLo > newDayHi) return;
    const [lo, hi] = [newDayLo, newDayHi];
    newDayLo = Infinity;
    newDayHi = -Infinity;
    await opts.db.one(sql.pointsPartitionsEnsure, [utcDay(lo), utcDay(hi)]);
    for (let d = lo; d <= hi; d++) ensuredDays.add(d);
  };

  let inFlight: InFlight | null = null;
  const settle = async (): Promise<void> => {
    if (inFlight === null) return;
    const { firstLine, lastLine, outcome } = inFlight;
    inFlight = null;
    const done = await outcome;
    if (!done.ok)
      throw new ImportError(
        `storing the rows of lines ${firstLine}-${lastLine} failed: ${(done.err as Error).message}. ` +
          `Rows before line ${firstLine} are stored; running the import again skips them`,
        { cause: done.err },
      );
    stats.imported += done.result.inserted;
    stats.duplicates += done.result.points - done.result.inserted;
  };

  // A batch is kept as encoded buffer entries of ENTRY_POINTS points, exactly what a flush
  // writes: parsed rows die young instead of piling up in the old generation until the write.
  let open: Point[] = [];
  let encoded: EncodedEntry[] = [];
  let batchPoints = 0;
  let firstLine = 0;
  let lastLine = 0;
  const repeats = new RepeatWindow();
  /** Adds a valid point to the batch; true when the batch is full and must be submitted. */
  const add = (point: Point, line: number): boolean => {
    const earlier = repeats.check(point, line);
    if (earlier !== undefined) {
      // Same series and millisecond as a row of this batch: the same value is a duplicate
      // (nothing lost), another value is refused as ingest refuses it (one would be lost).
      if (Object.is(earlier.value, point.value)) stats.duplicates += 1;
      else
        reject(line, [
          {
            field: 'timestamp',
            reason: `repeats line ${earlier.line} with another value: same series and millisecond (a series holds one value per millisecond)`,
          },
        ]);
      return false;
    }
    if (batchPoints === 0) firstLine = line;
    lastLine = line;
    const day = Math.floor(point.ts / DAY);
    if (!ensuredDays.has(day)) {
      if (day < newDayLo) newDayLo = day;
      if (day > newDayHi) newDayHi = day;
    }
    batchPoints += 1;
    if (limits !== undefined) {
      const fp = repeats.lastFingerprint;
      const refusal = limits.refused.get(fp);
      if (refusal !== undefined) {
        batchPoints -= 1;
        rejectForLimit(line, refusal);
        return false;
      }
      if (!limits.admitted.has(fp)) {
        // A series this import has not admitted yet: held until the batch asks Redis.
        limits.held.push({ point, line, fp });
        limits.asking.set(fp, point.metricName);
        return batchPoints >= batchSize || limits.asking.size >= ADMIT_AT_ONCE;
      }
    }
    keep(point);
    return batchPoints >= batchSize;
  };
  const keep = (point: Point): void => {
    open.push(point);
    if (open.length >= ENTRY_POINTS) {
      encoded.push(encodeEntry(open));
      open = [];
    }
  };
  // Series this import admitted or saw refused, and the rows held until their series is asked.
  const limits =
    opts.series === undefined
      ? undefined
      : {
          registry: opts.series,
          admitted: new Set<string>(),
          refused: new Map<string, SeriesRefusal>(),
          held: [] as { point: Point; line: number; fp: string }[],
          asking: new Map<string, string>(),
        };
  const rejectForLimit = (line: number, r: SeriesRefusal): void =>
    reject(line, [{ field: 'metric_name', reason: refusalReason(r) }]);
  /** Asks the registry about the held rows' new series; keeps the admitted rows, rejects the rest. */
  const admitHeld = async (): Promise<void> => {
    if (limits === undefined || limits.held.length === 0) return;
    const refs = [...limits.asking].map(([fingerprint, metricName]) => ({
      fingerprint,
      metricName,
    }));
    let refusals: SeriesRefusal[];
    try {
      refusals = await limits.registry.admit(refs);
    } catch (err) {
      throw new ImportError(
        `checking the series limits for lines up to ${lastLine} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (limits.admitted.size > ADMITTED_MAX) limits.admitted.clear();
    if (limits.refused.size > ADMITTED_MAX) limits.refused.clear();
    for (const r of refusals) for (const fp of r.fingerprints) limits.refused.set(fp, r);
    for (const fp of limits.asking.keys()) if (!limits.refused.has(fp)) limits.admitted.add(fp);
    for (const h of limits.held) {
      const r = limits.refused.get(h.fp);
      if (r === undefined) keep(h.point);
      else {
        batchPoints -= 1;
        rejectForLimit(h.line, r);
      }
    }
    limits.held = [];
    limits.asking.clear();
  };
  // One batch may be parsed while the previous one is written; never more.
  const submit = async (): Promise<void> => {
    await admitHeld();
    if (open.length > 0) encoded.push(encodeEntry(open));
    const entries = encoded;
    open = [];
    encoded = [];
    batchPoints = 0;
    repeats.clear();
    await settle();
    if (entries.length === 0) return;
    try {
      await ensurePartitions();
    } catch (err) {
      throw new ImportError(
        `creating the daily partitions for lines ${firstLine}-${lastLine} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
    inFlight = {
      firstLine,
      lastLine,
      outcome: store.write(entries.map((e) => decodeEntry(e))).then(
        (result) => ({ ok: true as const, result }),
        (err: unknown) => ({ ok: false as const, err }),
      ),
    };
  };

  const reject = (line: number, errors: FieldIssue[]): void => {
    stats.rejected += 1;
    if (rejectedRows.length >= MAX_REPORTED) return;
    rejectedRows.push({ line, errors });
    progress.clear();
    out.write(
      `${source.name}:${line}: ${errors.map((e) => `${e.field}: ${e.reason}`).join('; ')}\n`,
    );
  };

  const text = textOf(source, stats);
  const rows = source.format === 'csv' ? csvRows(text, source.name) : ndjsonRows(text);
  let interrupted = false;
  progress.start();
  try {
    for await (const chunk of rows) {
      const now = Date.now();
      for (let i = 0; i < chunk.length; i++) {
        const row = chunk[i] as Row;
        stats.rowsRead += 1;
        let errors = row.errors;
        let point: Point | undefined;
        if (row.point !== undefined) {
          const checked = validateBatch(
            { points: [row.point] },
            { now, maxPoints: 1, acceptMs: opts.acceptMs },
          );
          if (checked.ok) point = checked.points[0];
          else {
            errors = [...(errors ?? [])];
            for (const e of checked.errors) errors.push({ field: e.field, reason: e.reason });
          }
        }
        if (isPlainObject(row.point) && row.point.timestamp === undefined)
          errors = [...(errors ?? []), MISSING_TIMESTAMP];
        if (errors !== undefined || point === undefined) reject(row.line, errors ?? []);
        else if (add(point, row.line)) await submit();
      }
      if (opts.signal?.aborted) {
        interrupted = true;
        break;
      }
    }
    await submit();
    await settle();
  } finally {
    progress.stop();
    // A fatal error leaves a write running: let it end before the caller closes the pool.
    if (inFlight !== null) await (inFlight as InFlight).outcome;
    if (!source.stream.destroyed && source.stream !== process.stdin) source.stream.destroy();
  }
  if (stats.rejected > rejectedRows.length) {
    out.write(
      `${source.name}: ${count(stats.rejected - rejectedRows.length)} more rejected rows not shown (the first ${MAX_REPORTED} are above)\n`,
    );
  }
  let rollupHours = 0;
  try {
    rollupHours = (await aggregate({ db: opts.db, log: opts.log }, { reason: 'manual' })).hours;
  } catch (err) {
    throw new ImportError(
      `the rows are stored, but rebuilding rollup_1h failed: ${(err as Error).message} ` +
        '(the aggregate job will do it on its next run)',
      { cause: err },
    );
  }
  return {
    name: source.name,
    format: source.format,
    ...stats,
    elapsedMs: Date.now() - started,
    rollupHours,
    rejectedRows,
    interrupted,
    exitCode: interrupted ? 130 : stats.rejected > 0 ? 2 : 0,
  };
}

/** The final line: rows read, imported, already stored, rejected, elapsed. */
export function summaryLine(r: ImportResult): string {
  const seconds = r.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(r.rowsRead / seconds) : r.rowsRead;
  let line =
    `import ${r.name}: ${count(r.rowsRead)} rows read, ${count(r.imported)} imported, ` +
    `${count(r.duplicates)} already stored (duplicates), ${count(r.rejected)} rejected, ` +
    `in ${seconds.toFixed(1)} s (${count(rate)} rows/s)`;
  if (r.interrupted)
    line += '; INTERRUPTED before the end of the file: run it again to import the rest';
  else if (r.rejected > 0)
    line += `; ${count(r.rejected)} rows were rejected (see stderr): exit code 2`;
  return line;
}

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `usage: npm run import -- FILE [--format ndjson|csv] [--batch N]

Imports points from FILE (NDJSON: one JSON object per line; CSV: a header row, then one point
per row; "-" reads stdin and needs --format). Columns: timestamp (ISO-8601 with a zone, or epoch
milliseconds), metric_name, metric_value (or value), tags (a JSON object), source_agent_id,
instance_id. Rows that break the ingest rules, or would create a series past MAX_SERIES or
MAX_SERIES_PER_METRIC, are reported on stderr and skipped.

  --format ndjson|csv   default: from the extension (.ndjson, .jsonl, .csv)
  --batch N             points per transaction (default ${count(DEFAULT_BATCH)})

Exit code: 0 all rows imported (or already stored), 1 fatal error, 2 some rows rejected.
PostgreSQL: DATABASE_URL, else the embedded one; Redis (the series limits): REDIS_URL, else the
local or embedded one, as npm start.`;

/** Peak resident set size of this process in kB (VmHWM), when /proc tells it. */
function peakRssKb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux: fall back to getrusage
  }
  return process.resourceUsage().maxRSS;
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

export async function main(argv: string[]): Promise<number> {
  // V8 lets the old generation grow to ~4x the live heap between full collections. Parsing
  // promotes a steady stream of short-lived rows, so that alone took a 200 MB file's import to
  // ~210 MB RSS; at 1.5x it peaks at ~150 MB for the same throughput (GC time stays ~1 %).
  v8.setFlagsFromString('--heap-growing-percent=50');
  const err = (text: string) => process.stderr.write(`${text}\n`);
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        batch: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        'report-rss': { type: 'boolean' }, // hidden: tests read peak memory with it
      },
    });
  } catch (e) {
    err(`import: ${(e as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [file, ...extra] = args.positionals;
  if (file === undefined || extra.length > 0) {
    err(
      `import: ${file === undefined ? 'no FILE given' : `one FILE only, got ${args.positionals.length}`}\n\n${USAGE}`,
    );
    return 1;
  }
  const batchText = args.values.batch;
  const batchSize =
    batchText === undefined ? DEFAULT_BATCH : /^\d+$/.test(batchText) ? Number(batchText) : NaN;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    err(`import: --batch must be a whole number from 1 to ${count(MAX_BATCH)}, got "${batchText}"`);
    return 1;
  }

  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err(`import: ${e.message}`);
    return 1;
  }
  // Logs go to stderr (stdout carries the summary); only warnings unless LOG_LEVEL asks for more.
  const log = pino(
    { level: process.env.LOG_LEVEL ? config.logLevel : 'warn', base: { pid: process.pid } },
    pino.destination({ dest: 2, sync: true }),
  );

  let input: Input;
  try {
    input = await openInput(file, args.values.format);
  } catch (e) {
    if (!(e instanceof ImportError)) throw e;
    err(`import: ${e.message}`);
    return 1;
  }
  if (input.stream === process.stdin && process.stdin.isTTY)
    err('import: reading points from the terminal; end with Ctrl-D');

  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    err('\nimport: stopping after the batch being written (send the signal again to stop now)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let pgService: Service | undefined;
  let redisService: Service | undefined;
  let redis: ReturnType<typeof createRedis> | undefined;
  let db: Db | undefined;
  try {
    if (config.postgres.url) {
      pgService = { url: config.postgres.url, stop: () => Promise.resolve() };
    } else {
      err(`import: DATABASE_URL unset: using the embedded PostgreSQL under ${config.dataDir}`);
      pgService = await ensurePostgres({
        dataDir: config.dataDir,
        port: config.postgres.embeddedPort,
        log,
      });
    }
    db = createDb(pgService.url, 3, 'pulse-import', (e) =>
      log.warn({ err: e.message }, 'an idle PostgreSQL connection was closed by the server'),
    );
    try {
      await db.one('SELECT 1 AS ok');
    } catch (e) {
      throw new ImportError(
        `cannot connect to PostgreSQL at ${redactUrl(pgService.url)}: ${(e as Error).message}`,
      );
    }
    await migrate(db, log);
    // The series limits are counted in the Redis a running pulse uses (or the embedded one).
    try {
      redisService = await redisFor(config, log);
    } catch (e) {
      throw new ImportError(`cannot use Redis for the series limits: ${(e as Error).message}`);
    }
    redis = createRedis(redisService.url, 'pulse-import', 'command');
    const series = new SeriesRegistry(
      redis,
      keysFor(config.prefix),
      config.series,
      storedSeries(db),
    );
    const result = await runImport(
      {
        file,
        format: input.format,
        batchSize,
        db,
        log,
        acceptMs: config.retention.acceptMs,
        signal: controller.signal,
        series,
      },
      input,
    );
    process.stdout.write(`${summaryLine(result)}\n`);
    return result.exitCode;
  } catch (e) {
    if (e instanceof ImportError) err(`import: ${e.message}`);
    else err(`import: failed: ${(e as Error).stack ?? String(e)}`);
    return 1;
  } finally {
    await db?.$pool.end().catch(() => undefined);
    if (redis) await closeRedis(redis).catch(() => undefined);
    await redisService?.stop().catch(() => undefined);
    await pgService?.stop().catch(() => undefined);
    if (args.values['report-rss']) err(`import: peak RSS VmHWM ${peakRssKb()} kB`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
