// PostgreSQL's binary COPY format for (bigint, timestamptz, double precision) rows.
// Binary skips the server's text parsing and our date formatting: both ends do less work.
// Format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { sketchJsonBytes, writeSketchJson } from './sketch.js';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
// Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01T00:00:00Z).
const PG_EPOCH_MS = 946_684_800_000;
const ROW_BYTES = 2 + 3 * (4 + 8);
const TWO_32 = 4_294_967_296;

/** Rows as parallel arrays: series id, epoch milliseconds, value. */
export interface Rows {
  seriesId: ArrayLike<number>;
  ts: ArrayLike<number>;
  value: ArrayLike<number>;
}

/** Writes a 64-bit integer that fits a double exactly (|n| < 2^53) without BigInt. */
function writeInt64(view: DataView, offset: number, n: number): void {
  const high = Math.floor(n / TWO_32);
  view.setInt32(offset, high);
  view.setUint32(offset + 4, n - high * TWO_32);
}

/** The COPY stream as chunks of `rowsPerChunk` rows: header in the first, trailer in the last. */
export function* binaryCopyChunks(rows: Rows, rowsPerChunk = 2_000): Generator<Buffer> {
  const total = rows.ts.length;
  for (let start = 0; start < total || start === 0; start += rowsPerChunk) {
    const end = Math.min(total, start + rowsPerChunk);
    const first = start === 0;
    const last = end === total;
    const size = (first ? SIGNATURE.length + 8 : 0) + (end - start) * ROW_BYTES + (last ? 2 : 0);
    const buf = Buffer.allocUnsafe(size);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let o = 0;
    if (first) {
      SIGNATURE.copy(buf, 0);
      o = SIGNATURE.length;
      view.setInt32(o, 0); // flags
      view.setInt32(o + 4, 0); // header extension length
      o += 8;
    }
    for (let i = start; i < end; i++) {
      view.setInt16(o, 3);
      view.setInt32(o + 2, 8);
      writeInt64(view, o + 6, rows.seriesId[i] as number);
      view.setInt32(o + 14, 8);
      writeInt64(view, o + 18, ((rows.ts[i] as number) - PG_EPOCH_MS) * 1_000);
      view.setInt32(o + 26, 8);
      view.setFloat64(o + 30, rows.value[i] as number);
      o += ROW_BYTES;
    }
    if (last) view.setInt16(o, -1);
    yield buf;
    if (last) return;
  }
}

/** What every rollup row holds besides its key and sketch (lastTs in epoch ms). */
export interface RollupStats {
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  lastTs: number;
}

/**
 * Builds a binary COPY stream field by field, for tables with other columns than points'
 * (the metric-level rollup rows). Call `row(n)` and then exactly n field writes per row.
 */
export class BinaryCopyWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private o = 0;
  private readonly done: Buffer[] = [];

  constructor() {
    this.ensure(SIGNATURE.length + 8);
    SIGNATURE.copy(this.buf, 0);
    this.o = SIGNATURE.length;
    this.view.setInt32(this.o, 0);
    this.view.setInt32(this.o + 4, 0);
    this.o += 8;
  }

  private ensure(bytes: number): void {
    if (this.o + bytes <= this.buf.length) return;
    this.done.push(this.buf.subarray(0, this.o));
    this.buf = Buffer.allocUnsafe(Math.max(64 * 1024, bytes));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.o = 0;
  }

  row(fields: number): void {
    this.ensure(2);
    this.view.setInt16(this.o, fields);
    this.o += 2;
  }

  /**
   * Writes a field's length and makes room for its `bytes`; returns where they go. Call it
   * before reading `view` or `buf`: making room may move to a new buffer.
   */
  private field(bytes: number): number {
    this.ensure(4 + bytes);
    this.view.setInt32(this.o, bytes);
    const at = this.o + 4;
    this.o = at + bytes;
    return at;
  }

  int4(n: number): void {
    const at = this.field(4);
    this.view.setInt32(at, n);
  }

  int8(n: number): void {
    const at = this.field(8);
    writeInt64(this.view, at, n);
  }

  float8(x: number): void {
    const at = this.field(8);
    this.view.setFloat64(at, x);
  }

  /** A timestamptz from epoch milliseconds. */
  timestamptz(ms: number): void {
    this.int8((ms - PG_EPOCH_MS) * 1_000);
  }

  bytea(b: Uint8Array): void {
    const at = this.field(b.length);
    this.buf.set(b, at);
  }

  /** A jsonb value in its binary form: version 1, then the JSON text (UTF-8). */
  jsonb(json: string): void {
    const bytes = Buffer.byteLength(json);
    const at = this.field(1 + bytes);
    this.buf[at] = 1;
    this.buf.write(json, at + 1, bytes, 'utf8');
  }

  /**
   * A sketch's stored jsonb (see writeSketchJson) from its codes[from, to) and counts, written
   * as ASCII in place rather than made into a string first.
   */
  jsonbSketch(
    codes: ArrayLike<number>,
    counts: ArrayLike<number>,
    from: number,
    to: number,
    zero: number,
  ): void {
    this.ensure(5 + sketchJsonBytes(to - from));
    const at = this.o + 4;
    this.buf[at] = 1;
    const end = writeSketchJson(this.buf, at + 1, codes, counts, from, to, zero);
    this.view.setInt32(this.o, end - at);
    this.o = end;
  }

  /** A rollup's statistics: count (int8), sum, min, max, last (float8), last time (timestamptz). */
  stats(a: RollupStats): void {
    this.int8(a.count);
    this.float8(a.sum);
    this.float8(a.min);
    this.float8(a.max);
    this.float8(a.last);
    this.timestamptz(a.lastTs);
  }

  /** The whole stream, trailer included. */
  finish(): Buffer[] {
    this.ensure(2);
    this.view.setInt16(this.o, -1);
    this.o += 2;
    this.done.push(this.buf.subarray(0, this.o));
    return this.done;
  }
}

/** Streams `chunks` (a whole binary COPY stream) into `statement`, a COPY … FROM STDIN. */
export async function copyIn(
  client: pg.ClientBase,
  statement: string,
  chunks: Iterable<Buffer>,
): Promise<void> {
  await pipeline(Readable.from(chunks), client.query(copyFrom(statement)));
}
