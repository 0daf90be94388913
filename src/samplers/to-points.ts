// Turns samples into points under the same rules as ingest, adding pulse's own tags. A sample
// that breaks a rule (a NaN, a label value too long) is dropped and counted, never stored.
import { validateBatch, type FieldError, type Point } from '../metrics/point.js';
import type { Tags } from '../metrics/series.js';
import type { Sample } from './types.js';

export interface Converted {
  points: Point[];
  dropped: { name: string; reason: string }[];
}

export function toPoints(
  samples: Sample[],
  baseTags: Tags,
  now: number,
  acceptMs: number,
): Converted {
  const points: Point[] = [];
  const dropped: Converted['dropped'] = [];
  const opts = { now, maxPoints: 1, acceptMs };
  for (const s of samples) {
    const raw = {
      metric_name: s.name,
      value: s.value,
      timestamp: s.ts ?? now,
      tags: { ...baseTags, ...s.tags },
    };
    const checked = validateBatch({ points: [raw] }, opts);
    if (checked.ok) points.push(...checked.points);
    else dropped.push({ name: s.name, reason: describe(checked.errors[0]) });
  }
  return { points, dropped };
}

function describe(e: FieldError | undefined): string {
  return e ? `${e.field} ${e.reason}` : 'invalid';
}
