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

// Most points repeat a series seen moments ago; hashing each one again would be the costliest
// part of ingest. A trie over (name, agent, instance, tag, value, tag, value, ...) in the order
// sent finds the definition with a few map lookups and no string building. Bounded.
const SERIES_CACHE_MAX = 100_000;
// Stands for a missing id; cannot collide with a real one (ids are at least 1 character).
const NONE = '';

interface TrieNode {
  next: Map<string, TrieNode>;
  def?: SeriesDef;
}

let trie: TrieNode = { next: new Map() };
let cached = 0;

function step(node: TrieNode, part: string): TrieNode {
  let child = node.next.get(part);
  if (child === undefined) {
    child = { next: new Map() };
    node.next.set(part, child);
  }
  return child;
}

/** seriesDef through the trie cache: what every hot path should call. */
export function cachedSeriesDef(p: SeriesKey): SeriesDef {
  let node = step(step(step(trie, p.metricName), p.sourceAgentId ?? NONE), p.instanceId ?? NONE);
  for (const k in p.tags) node = step(step(node, k), p.tags[k] as string);
  if (node.def === undefined) {
    if (cached >= SERIES_CACHE_MAX) {
      trie = { next: new Map() };
      cached = 0;
      return seriesDef(p);
    }
    node.def = seriesDef(p);
    cached += 1;
  }
  return node.def;
}
