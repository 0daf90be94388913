// The durable buffer between ingest and PostgreSQL: a Redis stream read by a consumer group.
// A point is acknowledged to its sender once it is here, and leaves only after the
// PostgreSQL transaction that stores it has committed (see jobs/flush.ts).
import type { Redis } from 'ioredis';
import { BUFFER_GROUP, type Keys } from '../infra/keys.js';
import type { Point } from './point.js';
import {
  ADMISSION_LUA,
  NO_ADMISSION,
  refusalReason,
  type SeriesRefusal,
  type SeriesRegistry,
} from './series-registry.js';
import { cachedSeriesDef, type SeriesDef } from './series.js';

/** Points per stream entry: big enough to keep Redis overhead small, small enough to spread work. */
export const ENTRY_POINTS = 1_000;

// Wire format of an entry, three fields:
//   n  number of points
//   s  the entry's series as JSON: [[fingerprint, name, agent, instance, tagsJson], ...]
//   p  the points, binary: per point three little-endian float64 (series index, epoch ms, value)
// Binary points cost no number formatting or parsing at either end; the fingerprint travels
// with the series, so the flush never hashes anything.
const POINT_BYTES = 24;

export interface BufferEntry {
  id: string;
  /** Number of points the entry holds. */
  count: number;
  series: Buffer;
  points: Buffer;
}

/** A series as it travels in an entry: what the series table needs, tags still as JSON text. */
export type EntrySeries = Omit<SeriesDef, 'tags'>;

/** One decoded entry: its series, and per point the index of its series, time and value. */
export interface DecodedEntry {
  series: EntrySeries[];
  seriesIndex: Uint32Array;
  ts: Float64Array;
  value: Float64Array;
}

export interface EncodedEntry {
  count: number;
  series: string;
  points: Buffer;
}

/** Encodes points as one entry; `seen` collects each series' metric by fingerprint. */
export function encodeEntry(points: Point[], seen?: Map<string, string>): EncodedEntry {
  const index = new Map<string, number>();
  const series: [string, string, string | null, string | null, string][] = [];
  const buf = Buffer.allocUnsafe(points.length * POINT_BYTES);
  let o = 0;
  for (const p of points) {
    const def = cachedSeriesDef(p);
    let i = index.get(def.fingerprint);
    if (i === undefined) {
      i = series.length;
      index.set(def.fingerprint, i);
      seen?.set(def.fingerprint, def.metricName);
      series.push([
        def.fingerprint,
        def.metricName,
        def.sourceAgentId,
        def.instanceId,
        def.tagsJson,
      ]);
    }
    buf.writeDoubleLE(i, o);
    buf.writeDoubleLE(p.ts, o + 8);
    buf.writeDoubleLE(p.value, o + 16);
    o += POINT_BYTES;
  }
  return { count: points.length, series: JSON.stringify(series), points: buf };
}

export class EntryDecodeError extends Error {
  override name = 'EntryDecodeError';
}

/** Decodes and checks an entry; a poisoned one fails here, not halfway through a COPY. */
export function decodeEntry(entry: {
  count: number;
  series: Buffer | string;
  points: Buffer;
}): DecodedEntry {
  let rows: unknown;
  try {
    rows = JSON.parse(entry.series.toString());
  } catch (err) {
    throw new EntryDecodeError('entry series are not valid JSON', { cause: err });
  }
  if (!Array.isArray(rows)) throw new EntryDecodeError('entry series are not an array');
  const series = rows.map((row: unknown): EntrySeries => {
    if (
      !Array.isArray(row) ||
      row.length !== 5 ||
      typeof row[0] !== 'string' ||
      typeof row[1] !== 'string' ||
      typeof row[4] !== 'string'
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
    return { fingerprint, metricName, sourceAgentId, instanceId, tagsJson };
  });
  const n = entry.count;
  if (!Number.isSafeInteger(n) || n < 0 || entry.points.length !== n * POINT_BYTES) {
    throw new EntryDecodeError(
      `entry holds ${entry.points.length} bytes of points, not ${n} × ${POINT_BYTES}`,
    );
  }
  const out: DecodedEntry = {
    series,
    seriesIndex: new Uint32Array(n),
    ts: new Float64Array(n),
    value: new Float64Array(n),
  };
  const buf = entry.points;
  for (let i = 0, o = 0; i < n; i++, o += POINT_BYTES) {
    const si = buf.readDoubleLE(o);
    const ts = buf.readDoubleLE(o + 8);
    const v = buf.readDoubleLE(o + 16);
    if (
      !(Number.isInteger(si) && si >= 0 && si < series.length) ||
      !Number.isFinite(ts) ||
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

// Admits a request's series and adds all of its entries, or does neither: the series limits,
// the caps (points and bytes) and the counters are checked and kept in one script.
// KEYS: stream, depth, bytes, then the admission keys (series-registry.ts).
// ARGV: max points, max bytes, points, bytes, entry count, the entries (n, s, p each), then
// the admission arguments. Answers {1, depth, bytes}, {0, depth, bytes} (full), or a refusal.
const APPEND = `${ADMISSION_LUA}
local entries = tonumber(ARGV[5])
local plan, refusal = admission_check(4, 6 + 3 * entries)
if not plan then return refusal end
local depth = tonumber(redis.call('GET', KEYS[2]) or '0')
local bytes = math.max(0, tonumber(redis.call('GET', KEYS[3]) or '0'))
if depth + tonumber(ARGV[3]) > tonumber(ARGV[1]) or bytes + tonumber(ARGV[4]) > tonumber(ARGV[2]) then
  return {0, depth, bytes}
end
for i = 6, 5 + 3 * entries, 3 do
  redis.call('XADD', KEYS[1], '*', 'n', ARGV[i], 's', ARGV[i + 1], 'p', ARGV[i + 2])
end
admission_commit(4, plan, ARGV[6 + 3 * entries])
return {1, redis.call('INCRBY', KEYS[2], ARGV[3]), redis.call('INCRBY', KEYS[3], ARGV[4])}
`;

// Acknowledges and deletes entries; the depth and bytes drop only for entries this call really
// deleted, so two consumers acknowledging the same re-delivered entry count it once. Bytes
// never go below zero (entries buffered before they were counted).
const ACK = `
local removed = 0
local bytes = 0
for i = 2, #ARGV, 3 do
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then
    removed = removed + tonumber(ARGV[i + 1])
    bytes = bytes + tonumber(ARGV[i + 2])
  end
end
if removed > 0 then redis.call('DECRBY', KEYS[2], removed) end
if bytes > 0 and redis.call('DECRBY', KEYS[3], bytes) < 0 then redis.call('SET', KEYS[3], 0) end
return removed
`;

// Deleting a consumer drops its pending entries from the group for good, so the "holds
// nothing" check and the delete happen atomically: a consumer that read meanwhile is kept.
const DELETE_IDLE_CONSUMER = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

type StreamReply = [Buffer, Buffer[] | null][];

const EMPTY = Buffer.alloc(0);

function toEntries(reply: StreamReply, deleted: string[]): BufferEntry[] {
  const out: BufferEntry[] = [];
  for (const [rawId, fields] of reply) {
    const id = rawId.toString();
    // A pending entry deleted from the stream comes back with no fields.
    if (!fields) {
      deleted.push(id);
      continue;
    }
    const entry: BufferEntry = { id, count: -1, series: EMPTY, points: EMPTY };
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]?.toString();
      const value = fields[i + 1] ?? EMPTY;
      if (name === 'n') entry.count = Number(value.toString());
      else if (name === 's') entry.series = value;
      else if (name === 'p') entry.points = value;
    }
    out.push(entry);
  }
  return out;
}

/** Bytes an entry takes in the buffer: its series and its points (what BUFFER_MAX_BYTES counts). */
export function entryBytes(e: { series: Buffer | string; points: Buffer }): number {
  return (
    (typeof e.series === 'string' ? Buffer.byteLength(e.series) : e.series.length) + e.points.length
  );
}

export type AppendResult =
  | { accepted: true; depth: number; bytes: number }
  /** The buffer is full (points or bytes): nothing was stored, try again later. */
  | { accepted: false; depth: number; bytes: number; limited?: undefined }
  /**
   * A point would create a series past a limit: nothing was stored. `points` counts the
   * request's points of the refused series.
   */
  | { accepted: false; limited: SeriesRefusal & { points: number } };

/** Why an append was refused, in words. */
export function refusedBecause(r: Exclude<AppendResult, { accepted: true }>): string {
  if (r.limited) return refusalReason(r.limited);
  return `the buffer is full (${r.depth} points, ${r.bytes} bytes waiting to be stored)`;
}

export interface BufferLimits {
  /** BUFFER_MAX_POINTS */
  maxPoints: number;
  /** DEAD_LETTER_MAX: dead letters kept at most (the oldest go first). */
  maxDeadLetters?: number;
  /** BUFFER_MAX_BYTES */
  maxBytes?: number;
  /** Enforces MAX_SERIES and MAX_SERIES_PER_METRIC on what is appended; none without. */
  series?: SeriesRegistry;
}

export class PointBuffer {
  private readonly maxPoints: number;
  private readonly maxDeadLetters: number;
  private readonly maxBytes: number;
  readonly series: SeriesRegistry | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    limits: number | BufferLimits,
    maxDeadLetters = 10_000,
  ) {
    const l = typeof limits === 'number' ? { maxPoints: limits, maxDeadLetters } : limits;
    this.maxPoints = l.maxPoints;
    this.maxDeadLetters = l.maxDeadLetters ?? 10_000;
    this.maxBytes = l.maxBytes ?? Number.MAX_SAFE_INTEGER;
    this.series = l.series;
  }

  /** Creates the consumer group (and the stream) if missing. Safe to call from every process. */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.keys.bufferStream, BUFFER_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  /**
   * Buffers every point of a request, or none: refused when the buffer is full, or when a
   * point would create a series past a limit (a series PostgreSQL already stores never is).
   */
  async append(points: Point[]): Promise<AppendResult> {
    const seen = new Map<string, string>();
    const entryArgs: (string | number | Buffer)[] = [];
    let bytes = 0;
    for (let i = 0; i < points.length; i += ENTRY_POINTS) {
      const entry = encodeEntry(points.slice(i, i + ENTRY_POINTS), seen);
      entryArgs.push(entry.count, entry.series, entry.points);
      bytes += entryBytes(entry);
    }
    const head = [this.maxPoints, this.maxBytes, points.length, bytes, entryArgs.length / 3];
    const refs = this.series
      ? [...seen].map(([fingerprint, metricName]) => ({ fingerprint, metricName }))
      : [];
    let known = new Set<string>();
    // A refused series that PostgreSQL stores is not new: it is admitted past the limit on the
    // next try. A second refusal names series that really are new (or a race lost to a writer).
    for (let attempt = 0; ; attempt++) {
      const admission = this.series?.prepare(refs, 'all', known) ?? NO_ADMISSION;
      const reply = (await this.redis.eval(
        APPEND,
        3 + admission.keys.length,
        this.keys.bufferStream,
        this.keys.bufferDepth,
        this.keys.bufferBytes,
        ...admission.keys,
        ...head,
        ...entryArgs,
        ...admission.args,
      )) as unknown[];
      const code = Number(reply[0]);
      if (code === 1) {
        this.series?.admitted(admission);
        return { accepted: true, depth: Number(reply[1]), bytes: Number(reply[2]) };
      }
      if (code === 0) return { accepted: false, depth: Number(reply[1]), bytes: Number(reply[2]) };
      const registry = this.series as SeriesRegistry;
      const refusal = registry.refusal(admission, reply);
      const stored =
        attempt < 2 ? await registry.storedOf(refusal.fingerprints) : new Set<string>();
      if (stored.size === 0) {
        const refused = new Set(refusal.fingerprints);
        let n = 0;
        for (const p of points) if (refused.has(cachedSeriesDef(p).fingerprint)) n += 1;
        return { accepted: false, limited: { ...refusal, points: n } };
      }
      known = new Set([...known, ...stored]);
    }
  }

  /**
   * For sources that store what they may (samplers, scrapes): the points whose series a limit
   * keeps out are left out and reported, the rest are appended as by append().
   */
  async appendWhatFits(
    points: Point[],
  ): Promise<{ result: AppendResult; refused: (SeriesRefusal & { points: number })[] }> {
    if (!this.series || points.length === 0)
      return { result: await this.append(points), refused: [] };
    const seen = new Map<string, string>();
    for (const p of points) {
      const def = cachedSeriesDef(p);
      seen.set(def.fingerprint, def.metricName);
    }
    const refusals = await this.series.admit(
      [...seen].map(([fingerprint, metricName]) => ({ fingerprint, metricName })),
    );
    if (refusals.length === 0) return { result: await this.append(points), refused: [] };
    const refusalOf = new Map<string, SeriesRefusal & { points: number }>();
    const refused = refusals.map((r) => ({ ...r, points: 0 }));
    for (const r of refused) for (const fp of r.fingerprints) refusalOf.set(fp, r);
    const kept = points.filter((p) => {
      const r = refusalOf.get(cachedSeriesDef(p).fingerprint);
      if (r) r.points += 1;
      return r === undefined;
    });
    return { result: await this.append(kept), refused };
  }

  /** Bytes the buffered entries take (what BUFFER_MAX_BYTES is checked against). */
  async bytes(): Promise<number> {
    return Math.max(0, Number((await this.redis.get(this.keys.bufferBytes)) ?? 0));
  }

  async depth(): Promise<number> {
    return Number((await this.redis.get(this.keys.bufferDepth)) ?? 0);
  }

  /**
   * Entries for `consumer` to store, oldest obligations first: its own pending entries (a
   * retry after a failed transaction), then entries idle longer than claimIdleMs in a dead
   * consumer's hands, then new ones. At most `count` entries.
   */
  async read(
    consumer: string,
    count: number,
    claimIdleMs: number,
    opts: { ownPending?: boolean } = {},
  ): Promise<BufferEntry[]> {
    try {
      return await this.readOnce(consumer, count, claimIdleMs, opts);
    } catch (err) {
      // A Redis that restarted without persistence lost the group (and the stream): make it
      // again rather than fail every flush until a process restarts.
      if (!String((err as Error).message).includes('NOGROUP')) throw err;
      await this.ensureGroup();
      return this.readOnce(consumer, count, claimIdleMs, opts);
    }
  }

  private async readOnce(
    consumer: string,
    count: number,
    claimIdleMs: number,
    opts: { ownPending?: boolean },
  ): Promise<BufferEntry[]> {
    const { bufferStream: stream } = this.keys;
    const deleted: string[] = [];
    // A reader that already holds entries in flight (a prefetch) must not take them again.
    const own =
      opts.ownPending === false
        ? null
        : await this.redis.xreadgroupBuffer(
            'GROUP', BUFFER_GROUP, consumer, 'COUNT', count, 'STREAMS', stream, '0',
          ); // prettier-ignore
    const entries = toEntries(own?.[0]?.[1] ?? [], deleted);
    if (entries.length < count) {
      const claimed = (await this.redis.callBuffer(
        'XAUTOCLAIM', stream, BUFFER_GROUP, consumer, claimIdleMs, '0-0', 'COUNT', count - entries.length,
      )) as [Buffer, StreamReply, Buffer[]?]; // prettier-ignore
      entries.push(...toEntries(claimed[1], deleted));
    }
    if (entries.length < count) {
      const fresh = (await this.redis.xreadgroupBuffer(
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
    for (const e of entries) args.push(e.id, Math.max(0, e.count), entryBytes(e));
    return (await this.redis.eval(
      ACK, 3, this.keys.bufferStream, this.keys.bufferDepth, this.keys.bufferBytes, ...args,
    )) as number; // prettier-ignore
  }

  /**
   * Deletes consumers that hold no entries and have been idle for `idleMs`: every restarted
   * process leaves its old consumer names behind. Harmless for a live one: reading re-creates it.
   */
  async pruneConsumers(idleMs: number): Promise<string[]> {
    const { bufferStream: stream } = this.keys;
    const rows = (await this.redis.xinfo('CONSUMERS', stream, BUFFER_GROUP)) as (
      string | number
    )[][];
    const removed: string[] = [];
    for (const row of rows) {
      const info = new Map<string, string | number>();
      for (let i = 0; i < row.length; i += 2)
        info.set(String(row[i]), row[i + 1] as string | number);
      const name = String(info.get('name'));
      if (Number(info.get('pending')) === 0 && Number(info.get('idle')) >= idleMs) {
        const gone = (await this.redis.eval(
          DELETE_IDLE_CONSUMER,
          1,
          stream,
          BUFFER_GROUP,
          name,
        )) as number;
        if (gone === 1) removed.push(name);
      }
    }
    return removed;
  }

  /**
   * Moves an entry that cannot be stored aside (kept, with the reason, at most maxDeadLetters:
   * the oldest are trimmed), then acknowledges it.
   */
  async deadLetter(entry: BufferEntry, reason: string): Promise<void> {
    await this.redis.xadd(
      this.keys.bufferDead,
      'MAXLEN',
      this.maxDeadLetters,
      '*',
      'id',
      entry.id,
      'n',
      entry.count,
      's',
      entry.series,
      'p',
      entry.points,
      'reason',
      reason,
    );
    await this.ack([entry]);
  }

  /** Dead letters held now. */
  deadLetterCount(): Promise<number> {
    return this.redis.xlen(this.keys.bufferDead);
  }

  /** The dead letters, oldest first (at most `limit`), with what they hold and why. */
  async deadLetters(limit = 1_000): Promise<DeadLetter[]> {
    const rows = await this.redis.xrangeBuffer(this.keys.bufferDead, '-', '+', 'COUNT', limit);
    return rows.map(([id, fields]) => {
      const f = new Map<string, Buffer>();
      for (let i = 0; i + 1 < fields.length; i += 2)
        f.set((fields[i] as Buffer).toString(), fields[i + 1] as Buffer);
      const text = (k: string) => f.get(k)?.toString() ?? '';
      return {
        deadId: id.toString(),
        at: new Date(Number(id.toString().split('-')[0])),
        entryId: text('id'),
        count: Number(text('n')),
        series: f.get('s') ?? Buffer.alloc(0),
        points: f.get('p') ?? Buffer.alloc(0),
        reason: text('reason'),
      };
    });
  }

  /**
   * Puts dead letters back into the buffer (under its cap, as ingest would) and removes them
   * from the dead-letter stream; the flush takes them again. Returns the points put back, or
   * throws when the buffer has no room for them.
   */
  async replayDeadLetters(letters: DeadLetter[]): Promise<number> {
    let points = 0;
    for (const d of letters) {
      // Their series were admitted when they were first buffered.
      const [ok] = (await this.redis.eval(
        APPEND, 3, this.keys.bufferStream, this.keys.bufferDepth, this.keys.bufferBytes,
        this.maxPoints, this.maxBytes, d.count, entryBytes(d), 1, d.count, d.series, d.points,
        ...NO_ADMISSION.args,
      )) as [number, number]; // prettier-ignore
      if (ok !== 1)
        throw new Error(
          `the buffer has no room for dead letter ${d.deadId} (${d.count} points); ${points} points were put back`,
        );
      await this.redis.xdel(this.keys.bufferDead, d.deadId);
      points += d.count;
    }
    return points;
  }

  /** Deletes dead letters for good; returns how many were deleted. */
  async dropDeadLetters(letters: DeadLetter[]): Promise<number> {
    if (letters.length === 0) return 0;
    return this.redis.xdel(this.keys.bufferDead, ...letters.map((d) => d.deadId));
  }
}

/** An entry the flush could not store, as the dead-letter stream keeps it. */
export interface DeadLetter {
  /** Its id in the dead-letter stream. */
  deadId: string;
  /** When it was moved aside. */
  at: Date;
  /** Its id in the buffer stream, and what it held. */
  entryId: string;
  count: number;
  series: Buffer;
  points: Buffer;
  reason: string;
}
