// Writes decoded buffer entries to PostgreSQL: series first, then points by COPY, all in one
// transaction. It never reports a point as stored before that transaction has committed.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../infra/db.js';
import type { DecodedEntry } from './buffer.js';
import { sql, text } from './queries.js';
import type { SeriesDef } from './series.js';

export interface WriteResult {
  /** Points in the batch. */
  points: number;
  /** Rows really inserted (the rest were already stored). */
  inserted: number;
  /** True when the batch met a duplicate and took the ON CONFLICT path. */
  slowPath: boolean;
}

// Bounds the in-process series id cache; past it the cache starts over (a lookup, not a loss).
const SERIES_CACHE_MAX = 500_000;
const UNIQUE_VIOLATION = '23505';
const ROWS_PER_CHUNK = 2_000;

const COPY_POINTS = text(sql.pointsCopy);
const COPY_STAGING = text(sql.pointsStagingCopy);

export class PointStore {
  private readonly seriesIds = new Map<string, number>();

  constructor(private readonly db: Db) {}

  /** Stores the entries' points in one transaction; duplicates of stored points are skipped. */
  async write(entries: DecodedEntry[]): Promise<WriteResult> {
    const batch = merge(entries);
    if (batch.ts.length === 0) return { points: 0, inserted: 0, slowPath: false };
    const sco = await this.db.connect();
    let broken = false;
    try {
      await sco.none('BEGIN');
      const ids = await this.resolveSeries(sco, batch.series);
      const rows = () => copyRows(batch, ids);
      let inserted = batch.ts.length;
      let slowPath = false;
      await sco.none('SAVEPOINT fast_path');
      try {
        await copyInto(sco.client as unknown as pg.ClientBase, COPY_POINTS, rows());
      } catch (err) {
        if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
        slowPath = true;
        await sco.none('ROLLBACK TO SAVEPOINT fast_path');
        await sco.none(sql.pointsStagingCreate);
        await copyInto(sco.client as unknown as pg.ClientBase, COPY_STAGING, rows());
        inserted = (await sco.result(sql.pointsInsertFromStaging)).rowCount;
      }
      await sco.none('COMMIT');
      // Only now are the new series ids real: a rolled-back insert must not be cached.
      if (this.seriesIds.size + ids.size > SERIES_CACHE_MAX) this.seriesIds.clear();
      for (const [fp, id] of ids) this.seriesIds.set(fp, id);
      return { points: batch.ts.length, inserted, slowPath };
    } catch (err) {
      broken = isConnectionError(err);
      if (!broken) await sco.none('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await sco.done(broken);
    }
  }

  private async resolveSeries(
    t: { none: Db['none']; manyOrNone: Db['manyOrNone'] },
    series: SeriesDef[],
  ): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    const missing: SeriesDef[] = [];
    for (const s of series) {
      const id = this.seriesIds.get(s.fingerprint);
      if (id === undefined) missing.push(s);
      else ids.set(s.fingerprint, id);
    }
    if (missing.length === 0) return ids;
    await t.none(sql.seriesInsert, [
      missing.map((s) => s.fingerprint),
      missing.map((s) => s.metricName),
      missing.map((s) => s.sourceAgentId),
      missing.map((s) => s.instanceId),
      missing.map((s) => s.tagsJson),
    ]);
    const rows = await t.manyOrNone<{ id: number; fingerprint: string }>(sql.seriesIds, [
      missing.map((s) => s.fingerprint),
    ]);
    for (const r of rows) ids.set(r.fingerprint, r.id);
    if (ids.size !== series.length)
      throw new Error('series lookup returned fewer ids than asked for');
    return ids;
  }
}

interface Batch {
  series: SeriesDef[];
  fingerprints: string[];
  ts: number[];
  value: number[];
}

/** Joins entries into one batch whose points name their series by fingerprint. */
function merge(entries: DecodedEntry[]): Batch {
  const seen = new Map<string, SeriesDef>();
  const batch: Batch = { series: [], fingerprints: [], ts: [], value: [] };
  for (const e of entries) {
    for (const s of e.series) if (!seen.has(s.fingerprint)) seen.set(s.fingerprint, s);
    for (let i = 0; i < e.ts.length; i++) {
      batch.fingerprints.push((e.series[e.seriesIndex[i] as number] as SeriesDef).fingerprint);
      batch.ts.push(e.ts[i] as number);
      batch.value.push(e.value[i] as number);
    }
  }
  batch.series = [...seen.values()];
  return batch;
}

/** COPY text rows, a few thousand per chunk. Values are numbers and ISO dates: nothing to escape. */
function* copyRows(batch: Batch, ids: Map<string, number>): Generator<string> {
  let chunk = '';
  for (let i = 0; i < batch.ts.length; i++) {
    const id = ids.get(batch.fingerprints[i] as string) as number;
    chunk += `${id}\t${new Date(batch.ts[i] as number).toISOString()}\t${batch.value[i] as number}\n`;
    if ((i + 1) % ROWS_PER_CHUNK === 0) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

async function copyInto(client: pg.ClientBase, statement: string, rows: Iterable<string>) {
  const stream = client.query(copyFrom(statement));
  await pipeline(Readable.from(rows, { objectMode: false }), stream);
}

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
]);

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && CONNECTION_CODES.has(e.code)) return true;
  return /Connection terminated|connection is closed|not queryable|Client has encountered a connection error/i.test(
    e.message ?? '',
  );
}
