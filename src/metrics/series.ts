// A series is one metric from one source with one tag set. Its identity is a fingerprint
// computed here, the same in every process, so a series is found without asking PostgreSQL.
import { createHash } from 'node:crypto';

export type Tags = Record<string, string>;

export interface SeriesKey {
  metricName: string;
  sourceAgentId: string | null;
  instanceId: string | null;
  tags: Tags;
}

export interface SeriesDef extends SeriesKey {
  /** md5 of the canonical key, formatted as a uuid (what series.fingerprint stores). */
  fingerprint: string;
  /** Tags as canonical JSON (keys sorted), ready for the jsonb column. */
  tagsJson: string;
}

/** Tags with their keys sorted, as JSON: the same tag set always gives the same text. */
export function canonicalTags(tags: Tags): string {
  const sorted: Tags = {};
  for (const key of Object.keys(tags).sort()) sorted[key] = tags[key] as string;
  return JSON.stringify(sorted);
}

export function seriesDef(key: SeriesKey): SeriesDef {
  const tagsJson = canonicalTags(key.tags);
  const canonical = JSON.stringify([key.metricName, key.sourceAgentId, key.instanceId, tagsJson]);
  const hex = createHash('md5').update(canonical).digest('hex');
  const fingerprint = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { ...key, fingerprint, tagsJson };
}
