// Query parameters of the read API, checked before anything else happens: each violation is a
// 400 naming the parameter. Values reach SQL only as bound parameters, never as text.
import type { Request } from 'express';
import { canonicalMinutes, parseDuration } from '../infra/duration.js';
import { LIMITS, METRIC_NAME, storable, type FieldError } from '../metrics/point.js';
import { HttpError } from './errors.js';
import { MINUTE, DAY } from '../infra/time.js';

const RANGE = /^\d+[mhd]$/;
/** An ISO-8601 date, or a date-time with a zone (2025-09-05, 2025-09-05T12:00:00Z). */
export const ISO_TIME =
  /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;
const TAG_KEY = /^[a-zA-Z_][a-zA-Z0-9_.:-]*$/;
export const MAX_RANGE_MS = 90 * DAY;
export const MAX_POINTS = 5_000;

export class QueryErrors {
  readonly errors: FieldError[] = [];
  add(field: string, reason: string): void {
    this.errors.push({ field, reason, pointer: `?${field}` });
  }
  throwIfAny(): void {
    if (this.errors.length > 0) {
      const first = this.errors[0] as FieldError;
      throw new HttpError(400, 'Bad Request', `query parameter ${first.field} ${first.reason}`, {
        errors: this.errors,
      });
    }
  }
}

/** Each query parameter as one string; repeated or nested ones are errors. */
export function queryStrings(
  req: Request,
  allowed: (name: string) => boolean,
  errors: QueryErrors,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(req.query as Record<string, unknown>)) {
    if (!allowed(name)) errors.add(name, 'is not a known parameter');
    else if (typeof value !== 'string') errors.add(name, 'must be given once, as a plain value');
    else out.set(name, value);
  }
  return out;
}

/** `24h`, `90d`: positive, at most 90 days. */
export function parseRange(
  name: string,
  text: string | undefined,
  fallback: string,
  errors: QueryErrors,
): { text: string; ms: number } | undefined {
  const value = text ?? fallback;
  const ms = RANGE.test(value) ? parseDuration(value) : null;
  if (ms === null || ms <= 0)
    errors.add(name, 'must be a number followed by m, h or d (e.g. 30m, 24h, 7d)');
  else if (ms > MAX_RANGE_MS) errors.add(name, 'must be at most 90d');
  // Spelled one way (1440m, 1d and 01d are 24h): one cache entry, not four.
  else return { text: canonicalMinutes(ms), ms };
  return undefined;
}

const DEFAULT_RESOLUTION: Record<string, string> = {
  '1h': '1m',
  '24h': '5m',
  '7d': '1h',
};

/** Resolution for a range: given, or the dashboard's standard pair, or what keeps ≤ 300 points. */
export function parseResolution(
  text: string | undefined,
  range: { text: string; ms: number },
  errors: QueryErrors,
): { text: string; ms: number } | undefined {
  if (text === undefined) {
    const standard = DEFAULT_RESOLUTION[range.text];
    if (standard) return { text: standard, ms: parseDuration(standard) as number };
    const minutes = Math.max(1, Math.ceil(range.ms / 300 / MINUTE));
    return { text: `${minutes}m`, ms: minutes * MINUTE };
  }
  const ms = RANGE.test(text) ? parseDuration(text) : null;
  if (ms === null || ms <= 0)
    errors.add('resolution', 'must be a number followed by m, h or d (e.g. 1m, 5m, 1h)');
  else if (ms < MINUTE) errors.add('resolution', 'must be at least 1m');
  else if (ms > range.ms)
    errors.add('resolution', `must not be longer than time_range (${range.text})`);
  else if (range.ms / ms > MAX_POINTS)
    errors.add(
      'resolution',
      `gives ${Math.ceil(range.ms / ms)} points for ${range.text}; at most ${MAX_POINTS} per answer`,
    );
  else return { text: canonicalMinutes(ms), ms };
  return undefined;
}

export function parseMetricName(text: string | undefined, errors: QueryErrors): string | undefined {
  if (text === undefined) errors.add('metric_name', 'is required');
  else if (text.length === 0 || text.length > LIMITS.metricNameLength || !METRIC_NAME.test(text))
    errors.add('metric_name', 'must be 1 to 100 characters matching [a-zA-Z_:][a-zA-Z0-9_:.]*');
  else return text;
  return undefined;
}

export function parseId(
  name: string,
  text: string | undefined,
  errors: QueryErrors,
): string | undefined {
  if (text === undefined) return undefined;
  if (text.length === 0 || text.length > LIMITS.idLength || !storable(text))
    errors.add(name, `must be 1 to ${LIMITS.idLength} characters`);
  else return text;
  return undefined;
}

/** `tag.KEY=VALUE` parameters as a tag filter. */
export function parseTags(
  params: Map<string, string>,
  errors: QueryErrors,
): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [name, value] of params) {
    if (!name.startsWith('tag.')) continue;
    const key = name.slice(4);
    if (
      key.length === 0 ||
      key.length > LIMITS.tagKeyLength ||
      !TAG_KEY.test(key) ||
      key === '__proto__'
    )
      errors.add(name, 'must name a tag: tag.KEY with KEY matching [a-zA-Z_][a-zA-Z0-9_.:-]*');
    else if (value.length > LIMITS.tagValueLength || !storable(value))
      errors.add(name, `must be at most ${LIMITS.tagValueLength} characters`);
    else tags[key] = value;
  }
  if (Object.keys(tags).length > LIMITS.tagCount)
    errors.add('tag', `at most ${LIMITS.tagCount} tag filters`);
  return tags;
}

/** `limit`: a whole number from 1 to `max`, written without sign, point or leading zeros. */
export function parseLimit(
  text: string | undefined,
  fallback: number,
  max: number,
  errors: QueryErrors,
): number | undefined {
  if (text === undefined) return fallback;
  const n = /^[1-9]\d{0,5}$/.test(text) ? Number(text) : NaN;
  if (Number.isNaN(n) || n > max) errors.add('limit', `must be a whole number from 1 to ${max}`);
  else return n;
  return undefined;
}
