// The durable buffer between ingest and PostgreSQL: a Redis stream read by a consumer group.
// A point is acknowledged to its sender once it is here, and leaves only after the
// PostgreSQL transaction that stores it has committed (see jobs/flush.ts).
import type { Redis } from 'ioredis';
import { BUFFER_GROUP, type Keys } from '../infra/keys.js';
import type { Point } from './point.js';
import { seriesDef, type SeriesDef } from './series.js';

/** Points per stream entry: big enough to keep Redis overhead small, small enough to spread work. */
export const ENTRY_POINTS = 1_000;

export interface BufferEntry {
  id: string;
  /** Number of points the entry holds. */
  count: number;
  data: string;
}

/** One decoded entry: its series, and the points as parallel arrays indexing into them. */
export interface DecodedEntry {
  series: SeriesDef[];
  seriesIndex: number[];
  ts: number[];
  value: number[];
}

// Wire format of an entry's `d` field: {"s": [[fingerprint, name, agent, instance, tagsJson]...],
// "p": [seriesIndex, ts, value, seriesIndex, ts, value, ...]}. Compact, and decoding needs no
// hashing: the fingerprint travels with the series.
export function encodeEntry(points: Point[]): string {
  const index = new Map<string, number>();
  const series: [string, string, string | null, string | null, string][] = [];
  const flat: number[] = new Array<number>(points.length * 3);
  let j = 0;
  for (const p of points) {
    const def = seriesDef(p);
    let i = index.get(def.fingerprint);
    if (i === undefined) {
      i = series.length;
      index.set(def.fingerprint, i);
      series.push([
        def.fingerprint,
        def.metricName,
        def.sourceAgentId,
        def.instanceId,
        def.tagsJson,
      ]);
    }
    flat[j++] = i;
    flat[j++] = p.ts;
    flat[j++] = p.value;
  }
  return JSON.stringify({ s: series, p: flat });
}

export class EntryDecodeError extends Error {
  override name = 'EntryDecodeError';
}

export function decodeEntry(data: string): DecodedEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (err) {
    throw new EntryDecodeError('entry is not valid JSON', { cause: err });
  }
  const { s, p } = (parsed ?? {}) as { s?: unknown; p?: unknown };
  if (!Array.isArray(s) || !Array.isArray(p) || p.length % 3 !== 0) {
    throw new EntryDecodeError('entry does not have the {s, p} shape');
  }
  const series = s.map((row: unknown) => {
    if (
      !Array.isArray(row) ||
      row.length !== 5 ||
      typeof row[0] !== 'string' ||
      typeof row[1] !== 'string'
    ) {
      throw new EntryDecodeError('entry has a malformed series row');
    }
    const [fingerprint, metricName, sourceAgentId, instanceId, tagsJson] = row as [
      string,
      string,
      string | null,
      string | null,
      string,
    ];
    return {
      fingerprint,
      metricName,
      sourceAgentId,
      instanceId,
      tagsJson,
      tags: JSON.parse(tagsJson) as Record<string, string>,
    };
  });
  const n = p.length / 3;
  const out: DecodedEntry = {
    series,
    seriesIndex: new Array<number>(n),
    ts: new Array<number>(n),
    value: new Array<number>(n),
  };
  for (let i = 0, j = 0; i < n; i++) {
    const si = p[j++] as unknown;
    const ts = p[j++] as unknown;
    const v = p[j++] as unknown;
    if (
      typeof si !== 'number' ||
      si >= series.length ||
      typeof ts !== 'number' ||
      typeof v !== 'number' ||
      !Number.isFinite(v)
    ) {
      throw new EntryDecodeError(`entry has a malformed point at ${i}`);
    }
    out.seriesIndex[i] = si;
    out.ts[i] = ts;
    out.value[i] = v;
  }
  return out;
}

// Adds all of a request's entries or none: the cap is checked and the depth counted in one script.
const APPEND = `
local depth = tonumber(redis.call('GET', KEYS[2]) or '0')
local total = tonumber(ARGV[2])
if depth + total > tonumber(ARGV[1]) then return {0, depth} end
for i = 3, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'n', ARGV[i], 'd', ARGV[i + 1])
end
return {1, redis.call('INCRBY', KEYS[2], total)}
`;

// Acknowledges and deletes entries; the depth drops only for entries this call really deleted,
// so two consumers acknowledging the same re-delivered entry count it once.
const ACK = `
local removed = 0
for i = 2, #ARGV, 2 do
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then removed = removed + tonumber(ARGV[i + 1]) end
end
if removed > 0 then redis.call('DECRBY', KEYS[2], removed) end
return removed
`;

type StreamReply = [string, string[] | null][];

function toEntries(reply: StreamReply, deleted: string[]): BufferEntry[] {
  const out: BufferEntry[] = [];
  for (const [id, fields] of reply) {
    // A pending entry deleted from the stream comes back with no fields.
    if (!fields) {
      deleted.push(id);
      continue;
    }
    let count = 0;
    let data = '';
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === 'n') count = Number(fields[i + 1]);
      else if (fields[i] === 'd') data = fields[i + 1] ?? '';
    }
    out.push({ id, count, data });
  }
  return out;
}

export type AppendResult = { accepted: true; depth: number } | { accepted: false; depth: number };

export class PointBuffer {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly maxPoints: number,
  ) {}

  /** Creates the consumer group (and the stream) if missing. Safe to call from every process. */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.keys.bufferStream, BUFFER_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  async append(points: Point[]): Promise<AppendResult> {
    const args: (string | number)[] = [this.maxPoints, points.length];
    for (let i = 0; i < points.length; i += ENTRY_POINTS) {
      const chunk = points.slice(i, i + ENTRY_POINTS);
      args.push(chunk.length, encodeEntry(chunk));
    }
    const [ok, depth] = (await this.redis.eval(
      APPEND, 2, this.keys.bufferStream, this.keys.bufferDepth, ...args,
    )) as [number, number]; // prettier-ignore
    return { accepted: ok === 1, depth };
  }

  async depth(): Promise<number> {
    return Number((await this.redis.get(this.keys.bufferDepth)) ?? 0);
  }

  /**
   * Entries for `consumer` to store, oldest obligations first: its own pending entries (a
   * retry after a failed transaction), then entries idle longer than claimIdleMs in a dead
   * consumer's hands, then new ones. At most `count` entries.
   */
  async read(consumer: string, count: number, claimIdleMs: number): Promise<BufferEntry[]> {
    const { bufferStream: stream } = this.keys;
    const deleted: string[] = [];
    const own = (await this.redis.xreadgroup(
      'GROUP', BUFFER_GROUP, consumer, 'COUNT', count, 'STREAMS', stream, '0',
    )); // prettier-ignore
    const entries = toEntries(own?.[0]?.[1] ?? [], deleted);
    if (entries.length < count) {
      const claimed = (await this.redis.xautoclaim(
        stream, BUFFER_GROUP, consumer, claimIdleMs, '0-0', 'COUNT', count - entries.length,
      )) as [string, StreamReply, string[]?]; // prettier-ignore
      entries.push(...toEntries(claimed[1], deleted));
    }
    if (entries.length < count) {
      const fresh = (await this.redis.xreadgroup(
        'GROUP', BUFFER_GROUP, consumer, 'COUNT', count - entries.length, 'STREAMS', stream, '>',
      )); // prettier-ignore
      entries.push(...toEntries(fresh?.[0]?.[1] ?? [], deleted));
    }
    if (deleted.length > 0) await this.redis.xack(stream, BUFFER_GROUP, ...deleted);
    return entries;
  }

  /** Acknowledges stored entries; returns the number of points that left the buffer. */
  async ack(entries: BufferEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    const args: (string | number)[] = [BUFFER_GROUP];
    for (const e of entries) args.push(e.id, e.count);
    return (await this.redis.eval(
      ACK, 2, this.keys.bufferStream, this.keys.bufferDepth, ...args,
    )) as number; // prettier-ignore
  }

  /** Moves an entry that cannot be decoded aside (kept, with the reason), then acknowledges it. */
  async deadLetter(entry: BufferEntry, reason: string): Promise<void> {
    await this.redis.xadd(
      this.keys.bufferDead,
      '*',
      'id',
      entry.id,
      'n',
      entry.count,
      'd',
      entry.data,
      'reason',
      reason,
    );
    await this.ack([entry]);
  }
}
