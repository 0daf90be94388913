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

/** The common case, checked without allocating: a point whose every field is valid. */
function fastPoint(p: Record<string, unknown>, opts: ValidateOptions): Point | null {
  for (const key in p) if (!KNOWN_FIELDS.has(key)) return null;
  const name = p.metric_name;
  if (typeof name !== 'string' || !validName(name)) return null;
  let value = p.value;
  if (value === undefined) value = p.metric_value;
  else if (p.metric_value !== undefined) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  let ts = opts.now;
  const t = p.timestamp;
  if (typeof t === 'number') {
    if (!Number.isFinite(t)) return null;
    ts = Math.floor(t);
  } else if (typeof t === 'string') {
    if (!ISO_8601.test(t) || !realDateTime(t)) return null;
    ts = Date.parse(t);
    if (Number.isNaN(ts)) return null;
  } else if (t !== undefined) return null;
  if (ts > opts.now + LIMITS.futureMs || ts < opts.now - opts.acceptMs) return null;
  let tags = p.tags as Tags | undefined;
  if (tags === undefined) tags = {};
  else {
    if (!isPlainObject(tags)) return null;
    let n = 0;
    for (const k in tags) {
      const v = tags[k];
      if (
        ++n > LIMITS.tagCount ||
        typeof v !== 'string' ||
        v.length > LIMITS.tagValueLength ||
        !validTagKey(k) ||
        k === RESERVED_TAG ||
        !storable(v)
      )
        return null;
    }
  }
  const agent = fastId(p.source_agent_id);
  const instance = fastId(p.instance_id);
  if (agent === undefined || instance === undefined) return null;
  return { metricName: name, value, ts, tags, sourceAgentId: agent, instanceId: instance };
}

/** A valid id as stored (string or null), or undefined when it is not valid. */
function fastId(v: unknown): string | null | undefined {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string')
    return v.length > 0 && v.length <= LIMITS.idLength && storable(v) ? v : undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  return undefined;
}

function validatePoint(
  p: unknown,
  index: number,
  opts: ValidateOptions,
  errors: FieldError[],
): Point | null {
  if (isPlainObject(p)) {
    const point = fastPoint(p, opts);
    if (point) return point;
  }
  return checkPoint(p, index, opts, errors);
}

/** The slow path for a point the fast path refused: finds and describes every error in it. */
function checkPoint(
  p: unknown,
  index: number,
  opts: ValidateOptions,
  errors: FieldError[],
): Point | null {
  const fail = (field: string, reason: string, path: string[] = [field]) => {
    errors.push({
      index,
      field,
      reason,
      pointer: `/points/${index}/${path.map(escapePointer).join('/')}`,
    });
    return null;
  };
  if (!isPlainObject(p)) {
    errors.push({
      index,
      field: 'point',
      pointer: `/points/${index}`,
      reason: `must be an object, got ${typeName(p)}`,
    });
    return null;
  }
  const before = errors.length;
  for (const key of Object.keys(p)) {
    if (!KNOWN_FIELDS.has(key))
      fail(key, `is not a known field (allowed: ${[...KNOWN_FIELDS].join(', ')})`);
  }

  const name = p.metric_name;
  if (name === undefined) fail('metric_name', 'is required');
  else if (typeof name !== 'string') fail('metric_name', `must be a string, got ${typeName(name)}`);
  else if (name.length === 0 || name.length > LIMITS.metricNameLength)
    fail('metric_name', `must be 1 to ${LIMITS.metricNameLength} characters, got ${name.length}`);
  else if (!METRIC_NAME.test(name)) fail('metric_name', 'must match [a-zA-Z_:][a-zA-Z0-9_:.]*');

  let value: unknown = p.value;
  let valueField = 'value';
  if (p.value !== undefined && p.metric_value !== undefined) {
    fail('metric_value', 'give either value or metric_value, not both');
  } else if (value === undefined) {
    value = p.metric_value;
    valueField = 'metric_value';
  }
  if (value === undefined) fail('value', 'is required (as value or metric_value)');
  else if (typeof value !== 'number') fail(valueField, `must be a number, got ${typeName(value)}`);
  else if (!Number.isFinite(value))
    fail(valueField, 'must be a finite number (no NaN or Infinity)');

  let ts = opts.now;
  const t = p.timestamp;
  if (t !== undefined) {
    let parsed = NaN;
    if (typeof t === 'number') {
      if (!Number.isFinite(t)) fail('timestamp', 'must be a finite number of epoch milliseconds');
      else parsed = Math.floor(t);
    } else if (typeof t === 'string') {
      if (!ISO_8601.test(t))
        fail(
          'timestamp',
          'must be ISO-8601 with a zone (e.g. 2025-09-05T12:00:00Z) or epoch milliseconds',
        );
      else if (!realDateTime(t))
        fail('timestamp', 'is not a real date and time (e.g. February 30th)');
      else parsed = Date.parse(t);
      if (ISO_8601.test(t) && realDateTime(t) && Number.isNaN(parsed))
        fail('timestamp', 'is not a valid date');
    } else {
      fail('timestamp', `must be an ISO-8601 string or epoch milliseconds, got ${typeName(t)}`);
    }
    if (!Number.isNaN(parsed)) {
      if (parsed > opts.now + LIMITS.futureMs) fail('timestamp', 'is more than 1 h in the future');
      else if (parsed < opts.now - opts.acceptMs)
        fail(
          'timestamp',
          `is older than the ${fixedDays(opts.acceptMs)} d pulse accepts (RAW_RETENTION, and ROLLUP_1M_RETENTION less a margin: the rollups of older hours are gone or going, and an hour rebuilt from the rest would lose its history); epoch timestamps are in milliseconds`,
        );
      else ts = parsed;
    }
  }

  const tags: Tags = {};
  if (p.tags !== undefined) {
    if (!isPlainObject(p.tags))
      fail('tags', `must be an object of string values, got ${typeName(p.tags)}`);
    else {
      const entries = Object.entries(p.tags);
      if (entries.length > LIMITS.tagCount)
        fail('tags', `has ${entries.length} tags; at most ${LIMITS.tagCount}`);
      else {
        for (const [k, v] of entries) {
          if (k.length > LIMITS.tagKeyLength || !TAG_KEY.test(k))
            fail(
              `tags.${k}`,
              `tag names must be 1 to ${LIMITS.tagKeyLength} characters matching [a-zA-Z_][a-zA-Z0-9_.:-]*`,
              ['tags', k],
            );
          else if (k === RESERVED_TAG)
            fail(`tags.${k}`, `${RESERVED_TAG} is reserved and cannot be a tag name`, ['tags', k]);
          else if (typeof v !== 'string')
            fail(`tags.${k}`, `must be a string, got ${typeName(v)}`, ['tags', k]);
          else if (!storable(v))
            fail(`tags.${k}`, 'must not contain NUL characters or unpaired surrogates', [
              'tags',
              k,
            ]);
          else if (v.length > LIMITS.tagValueLength)
            fail(
              `tags.${k}`,
              `must be at most ${LIMITS.tagValueLength} characters, got ${v.length}`,
              ['tags', k],
            );
          else tags[k] = v;
        }
      }
    }
  }

  const ids: Record<string, string | null> = {};
  for (const field of ['source_agent_id', 'instance_id'] as const) {
    const v = p[field];
    if (v === undefined || v === null) ids[field] = null;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) ids[field] = String(v);
    else if (typeof v !== 'string')
      fail(field, `must be a string or an integer, got ${typeName(v)}`);
    else if (v.length === 0 || v.length > LIMITS.idLength)
      fail(field, `must be 1 to ${LIMITS.idLength} characters, got ${v.length}`);
    else if (!storable(v)) fail(field, 'must not contain NUL characters or unpaired surrogates');
    else ids[field] = v;
  }

  if (errors.length > before) return null;
  return {
    metricName: name as string,
    value: value as number,
    ts,
    tags,
    sourceAgentId: ids.source_agent_id ?? null,
    instanceId: ids.instance_id ?? null,
  };
}
