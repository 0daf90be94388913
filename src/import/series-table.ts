// The series of rows seen before, for readers that find a row's fields where they lie in the
// chunk read. A series is found by the raw text of its row's series fields (a hash of some of
// their characters picks the candidates, compared with the text in place), or, quicker, by
// the shape of its last plain line: that line with its time and value cut out. Files repeat
// their series in a steady order, so the series that followed the previous row's last time is
// tried first. Entries are only made from rows that passed every rule.
import type { SeriesDef } from '../metrics/series.js';
import { digitsEnd } from './scan.js';

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
  head: string;
  middle: string;
  tail: string;
  timeFirst: boolean;
  /** Characters of the ISO time (20 or 24), or 0 for epoch milliseconds in digits. */
  isoLength: number;
}

export interface Known {
  /** Each series field's text, null when the row did not have it. */
  parts: (string | null)[];
  def: SeriesDef;
  shape: Shape | null;
  /** The series of the row that came after this one's last time. */
  next: Known | null;
}

/** Where a number ends in the reader's grammar (JSON or CSV), or -1 if none starts at `i`. */
export type NumberEnd = (text: string, i: number, end: number) => number;

/** A copy that does not keep the chunk it was cut from alive. */
function detached(text: string, at: number, end: number): string {
  return JSON.parse(JSON.stringify(text.slice(at, end))) as string;
}

/**
 * A hash of the series fields: each one's length, its first 16 characters and last 16, and 8
 * spread between. Only picks candidates: a match is always compared in full.
 */
function hashOf(text: string, spans: Int32Array): number {
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
      for (let i = at; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 16_777_619);
    } else {
      for (let i = at; i < at + 16; i++) h = Math.imul(h ^ text.charCodeAt(i), 16_777_619);
      const step = (len - 32) >> 3;
      for (let i = at + 16; i < end - 16; i += step)
        h = Math.imul(h ^ text.charCodeAt(i), 16_777_619);
      for (let i = end - 16; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 16_777_619);
    }
  }
  return h;
}

function matches(k: Known, text: string, spans: Int32Array): boolean {
  for (let f = 0; f < SERIES_FIELDS; f++) {
    const at = spans[2 * f] as number;
    const part = k.parts[f] as string | null;
    if (at < 0) {
      if (part !== null) return false;
    } else if (
      part === null ||
      part.length !== (spans[2 * f + 1] as number) - at ||
      !text.startsWith(part, at)
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
   * The series of the row whose series fields are text[spans[2f], spans[2f+1]) for field f
   * (a start of -1: the row has no such field).
   */
  find(text: string, spans: Int32Array): Known | undefined {
    const list = this.byHash.get(hashOf(text, spans));
    if (list === undefined) return undefined;
    for (const k of list) if (matches(k, text, spans)) return k;
    return undefined;
  }

  remember(text: string, spans: Int32Array, def: SeriesDef): Known {
    if (this.size >= KNOWN_MAX) {
      this.byHash = new Map();
      this.size = 0;
      this.last = null;
    }
    const parts: (string | null)[] = [];
    for (let f = 0; f < SERIES_FIELDS; f++) {
      const at = spans[2 * f] as number;
      parts.push(at < 0 ? null : detached(text, at, spans[2 * f + 1] as number));
    }
    const known: Known = { parts, def, shape: null, next: null };
    const hash = hashOf(text, spans);
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
   * Remembers the line text[at, end) of a valid row of `k` as its shape; `cut` holds where its
   * time and value are (start and end of each) and whether the time is text (1) or a number.
   * A line whose time is not plain (text in the ISO form toISOString writes, or a number in up
   * to 15 digits) gives none.
   */
  learn(k: Known, text: string, at: number, end: number, cut: Int32Array): void {
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
        ? (len === 20 || len === 24) && text.charCodeAt(timeEnd - 1) === 90 // Z
        : len <= 15 && digitsEnd(text, timeAt, timeEnd) === timeEnd;
    if (!plain) return;
    const timeFirst = timeAt < valueAt;
    const [a, b, c, d] = timeFirst
      ? [timeAt, timeEnd, valueAt, valueEnd]
      : [valueAt, valueEnd, timeAt, timeEnd];
    k.shape = {
      head: detached(text, at, a),
      middle: detached(text, b, c),
      tail: detached(text, d, end),
      timeFirst,
      isoLength: textTime === 1 ? len : 0,
    };
  }

  /**
   * The series of the line text[at, end) if it has the shape of the series expected next (or
   * of the previous row's); `holes` then says where its time and value are. The caller still
   * checks both by the rules.
   */
  shaped(text: string, at: number, end: number, numberEnd: NumberEnd): Known | undefined {
    const last = this.last;
    if (last === null) return undefined;
    const next = last.next;
    if (next !== null && next.shape !== null && this.fits(next.shape, text, at, end, numberEnd))
      return next;
    if (last !== next && last.shape !== null && this.fits(last.shape, text, at, end, numberEnd))
      return last;
    return undefined;
  }

  private fits(s: Shape, text: string, at: number, end: number, numberEnd: NumberEnd): boolean {
    if (!text.startsWith(s.head, at)) return false;
    let i = at + s.head.length;
    for (let hole = 0; hole < 2; hole++) {
      const time = (hole === 0) === s.timeFirst;
      let e: number;
      if (!time) e = numberEnd(text, i, end);
      else if (s.isoLength > 0) e = i + s.isoLength;
      else {
        // Digits, without a leading zero (JSON refuses one).
        e = digitsEnd(text, i, end);
        if (e - i > 15 || (e - i > 1 && text.charCodeAt(i) === 48)) return false;
      }
      if (e <= i || e > end) return false;
      const slot = time ? 0 : 2;
      this.holes[slot] = i;
      this.holes[slot + 1] = e;
      const after = hole === 0 ? s.middle : s.tail;
      if (!text.startsWith(after, e)) return false;
      i = e + after.length;
    }
    return i === end;
  }
}
