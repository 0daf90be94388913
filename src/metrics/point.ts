// What a point is, and the checks every point passes before it may enter the buffer.
// Validation is all-or-nothing per request: one bad point rejects the whole batch.

import { cachedSeriesDef, type Tags } from './series.js';
import { HOUR, DAY } from '../infra/time.js';

export interface Point {
  metricName: string;
  value: number;
  /** Epoch milliseconds. */
  ts: number;
  tags: Tags;
  sourceAgentId: string | null;
  instanceId: string | null;
}

export interface FieldError {
  /** Index of the point in the request, when the error is about one point. */
  index?: number;
  /** The field as the client named it, e.g. "points", "value", "tags.region". */
  field: string;
  reason: string;
  /** RFC 6901 pointer into the request body. */
  pointer: string;
}

export const LIMITS = {
  metricNameLength: 100,
  tagCount: 32,
  tagKeyLength: 100,
  tagValueLength: 200,
  idLength: 100,
  futureMs: HOUR,
} as const;

export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:.]*$/;
const TAG_KEY = /^[a-zA-Z_][a-zA-Z0-9_.:-]*$/;
// PostgreSQL text and jsonb refuse NUL and unpaired UTF-16 surrogates; a point holding one
// would fail its whole flush batch, so it is refused here.
const UNSTORABLE =
  // eslint-disable-next-line no-control-regex -- NUL is exactly what it must find
  /[\u0000]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// Would become the object's prototype, not a tag, in most of JavaScript.
const RESERVED_TAG = '__proto__';

export function storable(text: string): boolean {
  return !UNSTORABLE.test(text);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Date.parse rolls 2025-02-30 over to March 2; this refuses dates and times that do not exist. */
function realDateTime(iso: string): boolean {
  const y = Number(iso.slice(0, 4));
  const m = Number(iso.slice(5, 7));
  const d = Number(iso.slice(8, 10));
  const hh = Number(iso.slice(11, 13));
  const mm = Number(iso.slice(14, 16));
  const ss = iso[16] === ':' ? Number(iso.slice(17, 19)) : 0;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1];
  return days !== undefined && d >= 1 && d <= days && hh <= 23 && mm <= 59 && ss <= 59;
}
// ISO-8601 date-time with a zone (Z or ±hh:mm); Date.parse alone accepts far too much.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

const KNOWN_FIELDS = new Set([
  'metric_name',
  'value',
  'metric_value',
  'timestamp',
  'tags',
  'source_agent_id',
  'instance_id',
]);

export interface ValidateOptions {
  now: number;
  maxPoints: number;
  /**
   * How far back a timestamp may be (config retention.acceptMs): older points are refused,
   * since the rollups they would join are gone and rebuilding them would lose history.
   */
  acceptMs: number;
  /** Stop collecting after this many errors; the client fixes those and tries again. */
  maxErrors?: number;
}

export type Validated = { ok: true; points: Point[] } | { ok: false; errors: FieldError[] };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 6901: "~" and "/" inside a key are escaped. */
function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Days, whole when they are (29), else to one decimal (22.5). */
function fixedDays(ms: number): string {
  const d = ms / DAY;
  return Number.isInteger(d) ? String(d) : d.toFixed(1);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Checks a `{"points": [...]}` body and returns normalised points or every error found. */
export function validateBatch(body: unknown, opts: ValidateOptions): Validated {
  const maxErrors = opts.maxErrors ?? 100;
  if (!isPlainObject(body)) {
    return {
      ok: false,
      errors: [
        {
          field: 'body',
          pointer: '',
          reason: `must be a JSON object with a "points" array, got ${typeName(body)}`,
        },
      ],
    };
  }
  const raw = body.points;
  if (!Array.isArray(raw)) {
    return {
      ok: false,
      errors: [
        {
          field: 'points',
          pointer: '/points',
          reason: raw === undefined ? 'is required' : `must be an array, got ${typeName(raw)}`,
        },
      ],
    };
  }
  if (raw.length === 0) {
    return {
      ok: false,
      errors: [{ field: 'points', pointer: '/points', reason: 'must hold at least one point' }],
    };
  }
  if (raw.length > opts.maxPoints) {
    return {
      ok: false,
      errors: [
        {
          field: 'points',
          pointer: '/points',
          reason: `holds ${raw.length} points; at most ${opts.maxPoints} per request`,
        },
      ],
    };
  }
  const errors: FieldError[] = [];
  const points: Point[] = [];
  for (let i = 0; i < raw.length && errors.length < maxErrors; i++) {
    const point = validatePoint(raw[i], i, opts, errors);
    if (point) points.push(point);
  }
  if (errors.length === 0) findRepeats(points, errors, maxErrors);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, points };
}

/**
 * One point through the rules, as validateBatch checks each point of a request (a point alone
 * cannot repeat another): the normalised point, or every error found in it.
 */
export function validateOne(raw: unknown, opts: ValidateOptions): Point | FieldError[] {
  const errors: FieldError[] = [];
  return validatePoint(raw, 0, opts, errors) ?? errors;
}

/**
 * A series holds one value per millisecond: a second point with the same series and time would
 * be taken for a re-delivery and silently skipped, so a request must not carry one. Checked
 * cheaply on (time, name) first; the full series key only for points that share both.
 */
function findRepeats(points: Point[], errors: FieldError[], maxErrors: number): void {
  const first = new Map<string, number>();
  let full: Map<string, number> | undefined;
  const seriesKey = (p: Point) => `${p.ts}|${cachedSeriesDef(p).fingerprint}`;
  for (let i = 0; i < points.length && errors.length < maxErrors; i++) {
    const p = points[i] as Point;
    const quick = `${p.ts}|${p.metricName}`;
    const j = first.get(quick);
    if (j === undefined) {
      first.set(quick, i);
      continue;
    }
    if (full === undefined) full = new Map();
    const earlierKey = seriesKey(points[j] as Point);
    if (!full.has(earlierKey)) full.set(earlierKey, j);
    const key = seriesKey(p);
    const earlier = full.get(key);
    if (earlier === undefined) full.set(key, i);
    else
      errors.push({
        index: i,
        field: 'timestamp',
        pointer: `/points/${i}/timestamp`,
        reason: `repeats point ${earlier}: same series and millisecond (a series holds one value per millisecond; points without a timestamp all get the time of the request)`,
      });
  }
}

// Names seen valid before skip the regex: a busy sender repeats a few hundred names and tag
// keys millions of times. Bounded, and only ever holds strings that passed the full check.
const KNOWN_OK_MAX = 10_000;
const okNames = new Set<string>();
const okTagKeys = new Set<string>();

function remember(set: Set<string>, value: string): void {
  if (set.size >= KNOWN_OK_MAX) set.clear();
  set.add(value);
}

function validName(name: string): boolean {
  if (okNames.has(name)) return true;
  if (name.length === 0 || name.length > LIMITS.metricNameLength || !METRIC_NAME.test(name))
    return false;
  remember(okNames, name);
  return true;
}

function validTagKey(key: string): boolean {
  if (okTagKeys.has(key)) return true;
  if (key.length > LIMITS.tagKeyLength || !TAG_KEY.test(key)) return false;
  remember(okTagKeys, key);
  return true;
}

/** Why a field is refused: a rule returns one in place of the field's value. */
class Refused {
  constructor(
    readonly field: string,
    readonly reason: string,
    readonly path: string[] = [field],
  ) {}
}

const TAG_NAME_RULE = `tag names must be 1 to ${LIMITS.tagKeyLength} characters matching [a-zA-Z_][a-zA-Z0-9_.:-]*`;
const UNSTORABLE_REASON = 'must not contain NUL characters or unpaired surrogates';
const NO_TIMEZONE =
  'must be ISO-8601 with a zone (e.g. 2025-09-05T12:00:00Z) or epoch milliseconds';

// The rules, one per field. Each returns the field's value as stored or a Refused; a reason is
// only built when a field fails, so the common case allocates nothing.

function metricNameRule(name: unknown): string | Refused {
  if (typeof name === 'string' && validName(name)) return name;
  if (name === undefined) return new Refused('metric_name', 'is required');
  if (typeof name !== 'string')
    return new Refused('metric_name', `must be a string, got ${typeName(name)}`);
  if (name.length === 0 || name.length > LIMITS.metricNameLength)
    return new Refused(
      'metric_name',
      `must be 1 to ${LIMITS.metricNameLength} characters, got ${name.length}`,
    );
  return new Refused('metric_name', 'must match [a-zA-Z_:][a-zA-Z0-9_:.]*');
}

/** The value, given as `value` or (the older name) `metric_value`. */
function valueRule(value: unknown, field: string): number | Refused {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value === undefined) return new Refused('value', 'is required (as value or metric_value)');
  if (typeof value !== 'number')
    return new Refused(field, `must be a number, got ${typeName(value)}`);
  return new Refused(field, 'must be a finite number (no NaN or Infinity)');
}

const BOTH_VALUES = new Refused('metric_value', 'give either value or metric_value, not both');

const ZERO = 48;

/** The n digits at text[at…] as a number, or -1 when one of them is not a digit. */
function digitsAt(text: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Epoch ms of text[at, end) when it is `YYYY-MM-DDTHH:MM:SS.sssZ` or `YYYY-MM-DDTHH:MM:SSZ` and
 * a real date and time, else NaN. The form exporters write (Date.prototype.toISOString), read
 * without a regular expression; anything else takes the full rule, which gives the same answer
 * for this form (year 1000 on: Date.UTC reads years below 100 as 19xx).
 */
export function canonicalIsoMs(text: string, at = 0, end = text.length): number {
  const len = end - at;
  if ((len !== 24 && len !== 20) || text.charCodeAt(end - 1) !== 90) return NaN; // Z
  if (
    text.charCodeAt(at + 4) !== 45 || // -
    text.charCodeAt(at + 7) !== 45 ||
    text.charCodeAt(at + 10) !== 84 || // T
    text.charCodeAt(at + 13) !== 58 || // :
    text.charCodeAt(at + 16) !== 58
  )
    return NaN;
  const y = digitsAt(text, at, 4);
  const mo = digitsAt(text, at + 5, 2);
  const d = digitsAt(text, at + 8, 2);
  const hh = digitsAt(text, at + 11, 2);
  const mm = digitsAt(text, at + 14, 2);
  const ss = digitsAt(text, at + 17, 2);
  let ms = 0;
  if (len === 24) {
    if (text.charCodeAt(at + 19) !== 46) return NaN; // .
    ms = digitsAt(text, at + 20, 3);
  }
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || hh < 0 || hh > 23 || mm < 0 || mm > 59) return NaN;
  if (ss < 0 || ss > 59 || ms < 0) return NaN;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (d > (mo === 2 && leap ? 29 : (DAYS_IN_MONTH[mo - 1] as number))) return NaN;
  return Date.UTC(y, mo - 1, d, hh, mm, ss, ms);
}

const IN_FUTURE = new Refused('timestamp', 'is more than 1 h in the future');

/** Epoch ms `ts` if it lies in what pulse accepts: at most 1 h ahead, back to acceptMs. */
function rangeRule(ts: number, opts: ValidateOptions): number | Refused {
  if (ts > opts.now + LIMITS.futureMs) return IN_FUTURE;
  if (ts < opts.now - opts.acceptMs)
    return new Refused(
      'timestamp',
      `is older than the ${fixedDays(opts.acceptMs)} d pulse accepts (RAW_RETENTION, and ROLLUP_1M_RETENTION less a margin: the rollups of older hours are gone or going, and an hour rebuilt from the rest would lose its history); epoch timestamps are in milliseconds`,
    );
  return ts;
}

function timestampRule(t: unknown, opts: ValidateOptions): number | Refused {
  let ts: number;
  if (t === undefined) return opts.now;
  if (typeof t === 'number') {
    if (!Number.isFinite(t))
      return new Refused('timestamp', 'must be a finite number of epoch milliseconds');
    ts = Math.floor(t);
  } else if (typeof t === 'string') {
    ts = canonicalIsoMs(t);
    if (Number.isNaN(ts)) {
      if (!ISO_8601.test(t)) return new Refused('timestamp', NO_TIMEZONE);
      if (!realDateTime(t))
        return new Refused('timestamp', 'is not a real date and time (e.g. February 30th)');
      ts = Date.parse(t);
      if (Number.isNaN(ts)) return new Refused('timestamp', 'is not a valid date');
    }
  } else {
    return new Refused(
      'timestamp',
      `must be an ISO-8601 string or epoch milliseconds, got ${typeName(t)}`,
    );
  }
  return rangeRule(ts, opts);
}

/**
 * A point's timestamp by the rules, for readers that find fields without building the point
 * (the import): a number, or an ISO-8601 string as text[at, end). Epoch ms, or undefined when
 * the rule refuses it (validateOne then says why).
 */
export function acceptedTimestamp(t: number, opts: ValidateOptions): number | undefined;
export function acceptedTimestamp(
  text: string,
  opts: ValidateOptions,
  at: number,
  end: number,
): number | undefined;
export function acceptedTimestamp(
  t: number | string,
  opts: ValidateOptions,
  at = 0,
  end = 0,
): number | undefined {
  let r: number | Refused;
  if (typeof t === 'number') r = timestampRule(t, opts);
  else {
    const ms = canonicalIsoMs(t, at, end);
    r = Number.isNaN(ms) ? timestampRule(t.slice(at, end), opts) : rangeRule(ms, opts);
  }
  return typeof r === 'number' ? r : undefined;
}

function tagRule(k: string, v: unknown): Refused | undefined {
  if (typeof v === 'string' && v.length <= LIMITS.tagValueLength && validTagKey(k)) {
    if (k !== RESERVED_TAG && storable(v)) return undefined;
  }
  const path = ['tags', k];
  if (k.length > LIMITS.tagKeyLength || !TAG_KEY.test(k))
    return new Refused(`tags.${k}`, TAG_NAME_RULE, path);
  if (k === RESERVED_TAG)
    return new Refused(`tags.${k}`, `${RESERVED_TAG} is reserved and cannot be a tag name`, path);
  if (typeof v !== 'string')
    return new Refused(`tags.${k}`, `must be a string, got ${typeName(v)}`, path);
  if (!storable(v)) return new Refused(`tags.${k}`, UNSTORABLE_REASON, path);
  return new Refused(
    `tags.${k}`,
    `must be at most ${LIMITS.tagValueLength} characters, got ${v.length}`,
    path,
  );
}

/** What the fast path stops at; the detailed path counts the tags to say how many. */
const TOO_MANY_TAGS = new Refused('tags', `has more than ${LIMITS.tagCount} tags`);

/** The tags as stored, or what is wrong with them: one Refused for the whole, or one per tag. */
function tagsRule(tags: unknown, stopAtFirst: boolean): Tags | Refused | Refused[] {
  if (tags === undefined) return {};
  if (!isPlainObject(tags))
    return new Refused('tags', `must be an object of string values, got ${typeName(tags)}`);
  let n = 0;
  let refused: Refused[] | undefined;
  for (const k in tags) {
    if (++n > LIMITS.tagCount && stopAtFirst) return TOO_MANY_TAGS;
    const r = tagRule(k, tags[k]);
    if (r === undefined) continue;
    if (stopAtFirst) return r;
    (refused ??= []).push(r);
  }
  if (n > LIMITS.tagCount) return new Refused('tags', `has ${n} tags; at most ${LIMITS.tagCount}`);
  return refused ?? (tags as Tags);
}

function idRule(field: string, v: unknown): string | null | Refused {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (typeof v !== 'string')
    return new Refused(field, `must be a string or an integer, got ${typeName(v)}`);
  if (v.length === 0 || v.length > LIMITS.idLength)
    return new Refused(field, `must be 1 to ${LIMITS.idLength} characters, got ${v.length}`);
  if (!storable(v)) return new Refused(field, UNSTORABLE_REASON);
  return v;
}

/**
 * Reads one point through the rules. With `errors` null (the fast path) it stops at the first
 * refusal and returns null; with an array it records every refusal (as FieldErrors of point
 * `index`) and returns null when there was any.
 */
function readPoint(
  p: Record<string, unknown>,
  opts: ValidateOptions,
  index: number,
  errors: FieldError[] | null,
): Point | null {
  const before = errors?.length ?? 0;
  for (const key in p) {
    if (!KNOWN_FIELDS.has(key) && recorded(new Refused(key, UNKNOWN_FIELD), index, errors))
      return null;
  }
  const name = metricNameRule(p.metric_name);
  if (name instanceof Refused && recorded(name, index, errors)) return null;
  if (p.value !== undefined && p.metric_value !== undefined) {
    if (recorded(BOTH_VALUES, index, errors)) return null;
  }
  const value =
    p.value === undefined ? valueRule(p.metric_value, 'metric_value') : valueRule(p.value, 'value');
  if (value instanceof Refused && recorded(value, index, errors)) return null;
  const ts = timestampRule(p.timestamp, opts);
  if (ts instanceof Refused && recorded(ts, index, errors)) return null;
  const tags = tagsRule(p.tags, errors === null);
  if (tags instanceof Refused && recorded(tags, index, errors)) return null;
  if (Array.isArray(tags)) for (const r of tags) if (recorded(r, index, errors)) return null;
  const agent = idRule('source_agent_id', p.source_agent_id);
  if (agent instanceof Refused && recorded(agent, index, errors)) return null;
  const instance = idRule('instance_id', p.instance_id);
  if (instance instanceof Refused && recorded(instance, index, errors)) return null;
  if (errors !== null && errors.length > before) return null;
  return {
    metricName: name as string,
    value: value as number,
    ts: ts as number,
    tags: tags as Tags,
    sourceAgentId: agent as string | null,
    instanceId: instance as string | null,
  };
}

/** Records `r` as an error of point `index`; true on the fast path (no `errors`): stop there. */
function recorded(r: Refused, index: number, errors: FieldError[] | null): boolean {
  if (errors === null) return true;
  errors.push({ index, field: r.field, reason: r.reason, pointer: pointerOf(index, r.path) });
  return false;
}

const UNKNOWN_FIELD = `is not a known field (allowed: ${[...KNOWN_FIELDS].join(', ')})`;

function pointerOf(index: number, path: string[]): string {
  return `/points/${index}/${path.map(escapePointer).join('/')}`;
}

/** The fast path first (no error is built); a point it refuses is read again for every error. */
function validatePoint(
  p: unknown,
  index: number,
  opts: ValidateOptions,
  errors: FieldError[],
): Point | null {
  if (!isPlainObject(p)) {
    errors.push({
      index,
      field: 'point',
      pointer: `/points/${index}`,
      reason: `must be an object, got ${typeName(p)}`,
    });
    return null;
  }
  return readPoint(p, opts, index, null) ?? readPoint(p, opts, index, errors);
}
