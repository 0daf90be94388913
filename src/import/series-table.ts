// The series of rows seen before, for readers that find a row's fields where they lie in the
// bytes read. A series is found by the raw bytes of its row's series fields (a hash of some of
// them picks the candidates, compared in place), or, quicker, by the shape of its last plain
// line: that line with its time and value cut out. Files repeat their series in a steady
// order, so the series that followed the previous row's last time is tried first. Entries are
// only made from rows that passed every rule.
import type { SeriesDef } from '../metrics/series.js';
import { digitsEnd, equalAt } from './bytes.js';

/** Series fields per row, in this order: metric_name, tags, source_agent_id, instance_id. */
export const SERIES_FIELDS = 4;

/** Entries kept; past it the table starts over (a miss costs a full check of one row). */
const KNOWN_MAX = 50_000;

/**
 * A line of one series with the time and the value cut out: head, one of them, middle, the
 * other, tail. A line made of the same head, middle and tail around a plain time (the ISO form
 * of the same length, or up to 15 digits) and a number is the same row but for those two.
 */
interface Shape {
  head: Buffer;
  middle: Buffer;
  tail: Buffer;
  timeFirst: boolean;
  /** Characters of the ISO time (20 or 24), or 0 for epoch milliseconds in digits. */
  isoLength: number;
}

export interface Known {
  /** Each series field's bytes, null when the row did not have it. */
  parts: (Buffer | null)[];
  def: SeriesDef;
  shape: Shape | null;
  /** The series of the row that came after this one's last time. */
  next: Known | null;
}

/** Where a number ends in the reader's grammar (JSON or CSV), or -1 if none starts at `i`. */
export type NumberEnd = (buf: Buffer, i: number, end: number) => number;

/** A copy that does not keep the chunk it was cut from alive. */
const detached = (buf: Buffer, at: number, end: number): Buffer =>
  Buffer.from(buf.subarray(at, end));

/**
 * A hash of the series fields: each one's length, its first 16 characters and last 16, and 8
 * spread between. Only picks candidates: a match is always compared in full.
 */
function hashOf(buf: Buffer, spans: Int32Array): number {
  let h = 0x811c9dc5 | 0;
  for (let f = 0; f < SERIES_FIELDS; f++) {
    const at = spans[2 * f] as number;
    if (at < 0) {
      h = Math.imul(h ^ 0x5bd1e995, 16_777_619);
      continue;
    }
    const end = spans[2 * f + 1] as number;
    const len = end - at;
    h = Math.imul(h ^ len, 16_777_619);
    if (len <= 40) {
      for (let i = at; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 16_777_619);
    } else {
      for (let i = at; i < at + 16; i++) h = Math.imul(h ^ (buf[i] as number), 16_777_619);
      const step = (len - 32) >> 3;
      for (let i = at + 16; i < end - 16; i += step)
        h = Math.imul(h ^ (buf[i] as number), 16_777_619);
      for (let i = end - 16; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 16_777_619);
    }
  }
  return h;
}

function matches(k: Known, buf: Buffer, spans: Int32Array): boolean {
  for (let f = 0; f < SERIES_FIELDS; f++) {
    const at = spans[2 * f] as number;
    const part = k.parts[f] as Buffer | null;
    if (at < 0) {
      if (part !== null) return false;
    } else if (
      part === null ||
      part.length !== (spans[2 * f + 1] as number) - at ||
      !equalAt(buf, at, part)
    ) {
      return false;
    }
  }
  return true;
}

export class SeriesTable {
  private byHash = new Map<number, Known[]>();
  private size = 0;
  private last: Known | null = null;
  /** Where shaped() found the time and the value: start and end of each. */
  readonly holes = new Int32Array(4);

  /**
   * The series of the row whose series fields are buf[spans[2f], spans[2f+1]) for field f
   * (a start of -1: the row has no such field).
   */
  find(buf: Buffer, spans: Int32Array): Known | undefined {
    const list = this.byHash.get(hashOf(buf, spans));
    if (list === undefined) return undefined;
    for (const k of list) if (matches(k, buf, spans)) return k;
    return undefined;
  }

  remember(buf: Buffer, spans: Int32Array, def: SeriesDef): Known {
    if (this.size >= KNOWN_MAX) {
      this.byHash = new Map();
      this.size = 0;
      this.last = null;
    }
    const parts: (Buffer | null)[] = [];
    for (let f = 0; f < SERIES_FIELDS; f++) {
      const at = spans[2 * f] as number;
      parts.push(at < 0 ? null : detached(buf, at, spans[2 * f + 1] as number));
    }
    const known: Known = { parts, def, shape: null, next: null };
    const hash = hashOf(buf, spans);
    const list = this.byHash.get(hash);
    if (list === undefined) this.byHash.set(hash, [known]);
    else list.push(known);
    this.size += 1;
    return known;
  }

  /** A row of `k` was taken: the next row is expected to be of the series that followed it. */
  saw(k: Known): void {
    if (this.last !== null) this.last.next = k;
    this.last = k;
  }

  /**
   * Remembers the line buf[at, end) of a valid row of `k` as its shape; `cut` holds where its
   * time and value are (start and end of each) and whether the time is text (1) or a number.
   * A line whose time is not plain (text in the ISO form toISOString writes, or a number in up
   * to 15 digits) gives none.
   */
  learn(k: Known, buf: Buffer, at: number, end: number, cut: Int32Array): void {
    const [timeAt, timeEnd, valueAt, valueEnd, textTime] = cut as unknown as number[] as [
      number,
      number,
      number,
      number,
      number,
    ];
    if (timeAt < 0 || valueAt < 0) return;
    const len = timeEnd - timeAt;
    const plain =
      textTime === 1
        ? (len === 20 || len === 24) && buf[timeEnd - 1] === 90 // Z
        : len <= 15 && digitsEnd(buf, timeAt, timeEnd) === timeEnd;
    if (!plain) return;
    const timeFirst = timeAt < valueAt;
    const [a, b, c, d] = timeFirst
      ? [timeAt, timeEnd, valueAt, valueEnd]
      : [valueAt, valueEnd, timeAt, timeEnd];
    k.shape = {
      head: detached(buf, at, a),
      middle: detached(buf, b, c),
      tail: detached(buf, d, end),
      timeFirst,
      isoLength: textTime === 1 ? len : 0,
    };
  }

  /**
   * The series of the line buf[at, end) if it has the shape of the series expected next (or
   * of the previous row's); `holes` then says where its time and value are. The caller still
   * checks both by the rules.
   */
  shaped(buf: Buffer, at: number, end: number, numberEnd: NumberEnd): Known | undefined {
    const last = this.last;
    if (last === null) return undefined;
    const next = last.next;
    if (next !== null && next.shape !== null && this.fits(next.shape, buf, at, end, numberEnd))
      return next;
    if (last !== next && last.shape !== null && this.fits(last.shape, buf, at, end, numberEnd))
      return last;
    return undefined;
  }

  private fits(s: Shape, buf: Buffer, at: number, end: number, numberEnd: NumberEnd): boolean {
    if (!equalAt(buf, at, s.head)) return false;
    let i = at + s.head.length;
    for (let hole = 0; hole < 2; hole++) {
      const time = (hole === 0) === s.timeFirst;
      let e: number;
      if (!time) e = numberEnd(buf, i, end);
      else if (s.isoLength > 0) e = i + s.isoLength;
      else {
        // Digits, without a leading zero (JSON refuses one).
        e = digitsEnd(buf, i, end);
        if (e - i > 15 || (e - i > 1 && buf[i] === 48)) return false;
      }
      if (e <= i || e > end) return false;
      const slot = time ? 0 : 2;
      this.holes[slot] = i;
      this.holes[slot + 1] = e;
      const after = hole === 0 ? s.middle : s.tail;
      if (!equalAt(buf, e, after)) return false;
      i = e + after.length;
    }
    return i === end;
  }
}
