// The ingest rules for one import row, and the series of rows seen before. Readers that find a
// row's fields in place (ndjson-reader.ts, csv-reader.ts) check its time and value here and take
// its series from what an earlier row with the same series text was found to be; every other
// row goes through validateOne, the rules ingest applies. Never accepts what validateOne refuses.
import {
  acceptedTimestamp,
  canonicalIsoMs,
  validateOne,
  type ValidateOptions,
} from '../metrics/point.js';
import { cachedSeriesDef, type SeriesDef } from '../metrics/series.js';
import { decimalValue, smallInteger, textOf } from './bytes.js';
import type { FieldIssue, Row } from './rows.js';
import { SeriesTable, type Known } from './series-table.js';

/** Where a reader hands its rows. */
export interface RowSink {
  /** A valid row: its series, epoch ms, value and line. */
  add(def: SeriesDef, ts: number, value: number, line: number): void;
  /** A row that breaks a rule. */
  refuse(line: number, issues: FieldIssue[]): void;
  /** True when reading must stop until the rows taken so far are submitted. */
  readonly full: boolean;
}

const MISSING_TIMESTAMP: FieldIssue = {
  field: 'timestamp',
  reason: 'is required in an import (a point without one would be stored again by every run)',
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The two digits at buf[at…] as a number, or -1. */
function twoDigits(buf: Buffer, at: number): number {
  const a = (buf[at] as number) - 48;
  const b = (buf[at + 1] as number) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

const HOUR_TEXT = 14; // YYYY-MM-DDTHH:

/** How a reader found a row's time written. */
export const TimeKind = {
  /** A JSON number: epoch ms. */
  Number: 0,
  /** A string's contents: ISO-8601. */
  Text: 1,
  /** A CSV cell: epoch ms when it is up to 15 digits, else ISO-8601. */
  Cell: 2,
} as const;
export type TimeKind = (typeof TimeKind)[keyof typeof TimeKind];

export class RowChecker {
  private readonly opts: ValidateOptions;
  // The hour of the last time read as `YYYY-MM-DDTHH:MM:SS.sssZ` (its first 14 characters) and
  // its epoch ms: rows in time order share it, and then only minutes to milliseconds are read.
  private hourText = Buffer.alloc(HOUR_TEXT);
  private hourMs = NaN;
  /** The series of rows seen before (readers look rows up there first). */
  readonly known = new SeriesTable();

  constructor(acceptMs: number, now = Date.now()) {
    this.opts = { now, maxPoints: 1, acceptMs };
  }

  /** The clock the time rules use (readers set it once per chunk, as ingest does per request). */
  set now(now: number) {
    this.opts.now = now;
  }

  /** A timestamp given as a number, by the rules; undefined when they refuse it. */
  time(t: number): number | undefined {
    return acceptedTimestamp(t, this.opts);
  }

  /**
   * Hands a row of a known series to the sink when its time (buf[at[0], at[1]), read as `kind`
   * says) and its value (buf[at[2], at[3]), a decimal) pass the rules: what both
   * readers' fast paths end with. False (also when either place is -1) sends the row to the
   * reader's slow path.
   */
  take(
    k: Known,
    buf: Buffer,
    at: ArrayLike<number>,
    kind: TimeKind,
    sink: RowSink,
    line: number,
  ): boolean {
    const timeAt = at[0] as number;
    const timeEnd = at[1] as number;
    const valueAt = at[2] as number;
    const valueEnd = at[3] as number;
    if (timeAt < 0 || valueAt < 0) return false;
    let ts: number | undefined;
    if (kind === TimeKind.Text) ts = this.timeText(buf, timeAt, timeEnd);
    else {
      const n = smallInteger(buf, timeAt, timeEnd);
      if (!Number.isNaN(n)) ts = this.time(n);
      else if (kind === TimeKind.Cell) ts = this.timeText(buf, timeAt, timeEnd);
      else ts = this.time(Number(textOf(buf, timeAt, timeEnd)));
    }
    if (ts === undefined) return false;
    const value = decimalValue(buf, valueAt, valueEnd);
    if (!Number.isFinite(value)) return false;
    this.known.saw(k);
    sink.add(k.def, ts, value, line);
    return true;
  }

  /** A timestamp given as text (an ISO-8601 string's contents, buf[at, end)), by the rules. */
  timeText(buf: Buffer, at: number, end: number): number | undefined {
    if (end - at === 24 && !Number.isNaN(this.hourMs) && this.sameHour(buf, at)) {
      const mm = twoDigits(buf, at + 14);
      const ss = twoDigits(buf, at + 17);
      const frac = twoDigits(buf, at + 20);
      const ms = (buf[at + 22] as number) - 48;
      if (
        mm >= 0 &&
        mm <= 59 &&
        ss >= 0 &&
        ss <= 59 &&
        frac >= 0 &&
        ms >= 0 &&
        ms <= 9 &&
        buf[at + 16] === 58 &&
        buf[at + 19] === 46 &&
        buf[at + 23] === 90
      )
        // The same number the text gives: the rules for it are the rules for the number.
        return acceptedTimestamp(
          this.hourMs + mm * 60_000 + ss * 1_000 + frac * 10 + ms,
          this.opts,
        );
    }
    const text = textOf(buf, at, end);
    if (text.length === 24) {
      const ms = canonicalIsoMs(text);
      if (!Number.isNaN(ms)) {
        buf.copy(this.hourText, 0, at, at + HOUR_TEXT);
        this.hourMs = ms - (((ms % 3_600_000) + 3_600_000) % 3_600_000);
      }
    }
    return acceptedTimestamp(text, this.opts, 0, text.length);
  }

  private sameHour(buf: Buffer, at: number): boolean {
    const h = this.hourText;
    for (let i = 0; i < HOUR_TEXT; i++) if (buf[at + i] !== h[i]) return false;
    return true;
  }

  /**
   * A row read the general way, through every rule; a valid one goes to the sink and, given
   * where its series fields are in `buf`, its series is remembered by them (and returned).
   */
  check(row: Row, sink: RowSink, buf?: Buffer, spans?: Int32Array): Known | undefined {
    let issues = row.errors;
    if (row.point !== undefined) {
      const checked = validateOne(row.point, this.opts);
      if (Array.isArray(checked)) {
        issues = [...(issues ?? [])];
        for (const e of checked) issues.push({ field: e.field, reason: e.reason });
      } else if (
        issues === undefined &&
        (row.point as { timestamp?: unknown }).timestamp !== undefined
      ) {
        const def = cachedSeriesDef(checked);
        const known =
          buf !== undefined && spans !== undefined
            ? this.known.remember(buf, spans, def)
            : undefined;
        if (known !== undefined) this.known.saw(known);
        sink.add(def, checked.ts, checked.value, row.line);
        return known;
      }
    }
    if (isPlainObject(row.point) && row.point.timestamp === undefined)
      issues = [...(issues ?? []), MISSING_TIMESTAMP];
    sink.refuse(row.line, issues ?? []);
    return undefined;
  }
}
