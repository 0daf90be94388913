// The cursor of GET /api/v1/series: the last row of a page, (metric_name, id), with a check
// over that position and the filters of the request it was given out for, as base64url JSON.
// The check is a digest, not a secret: it refuses a cursor that was edited, or that is used
// with other filters than its own (whose pages would silently skip or repeat series).
import { createHash } from 'node:crypto';
import { LIMITS, METRIC_NAME } from './point.js';

export interface SeriesFilters {
  metricName?: string | undefined;
  sourceAgentId?: string | undefined;
  instanceId?: string | undefined;
  tags?: Record<string, string> | undefined;
}

export interface SeriesPosition {
  metricName: string;
  id: number;
}

/** A cursor is at most this long: a 100-character metric name and an id encode to about 200. */
export const MAX_CURSOR_LENGTH = 512;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The filters as one string, tag keys sorted: the same filters always give the same text. */
function filterKey(f: SeriesFilters): string {
  const tags = f.tags ?? {};
  return JSON.stringify([
    f.metricName ?? null,
    f.sourceAgentId ?? null,
    f.instanceId ?? null,
    Object.keys(tags)
      .sort()
      .map((k) => [k, tags[k]]),
  ]);
}

function check(at: SeriesPosition, filters: SeriesFilters): string {
  return createHash('sha256')
    .update(JSON.stringify([at.metricName, at.id, filterKey(filters)]))
    .digest('base64url')
    .slice(0, 16);
}

export function encodeCursor(at: SeriesPosition, filters: SeriesFilters): string {
  return Buffer.from(JSON.stringify([at.metricName, at.id, check(at, filters)])).toString(
    'base64url',
  );
}

/** The position a cursor names, or why it is refused (a reason for the 400 answer). */
export function decodeCursor(
  text: string,
  filters: SeriesFilters,
): { at: SeriesPosition } | { reason: string } {
  const notOurs = {
    reason: 'is not a cursor this API gave out: pass next_cursor of the previous page unchanged',
  };
  if (text.length === 0 || text.length > MAX_CURSOR_LENGTH || !BASE64URL.test(text)) return notOurs;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return notOurs;
  }
  if (!Array.isArray(value) || value.length !== 3) return notOurs;
  const [metricName, id, sum] = value as unknown[];
  if (
    typeof metricName !== 'string' ||
    metricName.length === 0 ||
    metricName.length > LIMITS.metricNameLength ||
    !METRIC_NAME.test(metricName) ||
    typeof id !== 'number' ||
    !Number.isSafeInteger(id) ||
    id < 1 ||
    typeof sum !== 'string'
  )
    return notOurs;
  const at = { metricName, id };
  if (sum !== check(at, filters))
    return {
      reason:
        'was altered, or was given out for other filters: repeat the filters of the request that returned it',
    };
  return { at };
}
