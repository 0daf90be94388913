// Compaction and rebuilds of the metric-level rollups. Both rewrite metric_rollup rows, so both
// hold the compaction lock.
import { cancellableCopyTx, throwIfAborted } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import {
  floorTo,
  RowSet,
  STORED_QUANTILES,
  widthIndexOf,
  WIDTHS_MS,
  type AggregateRow,
  type Queryable,
  type StoredRow,
} from './metric-rollup-rows.js';
import { sql, text } from './queries.js';
import { copyIn } from './copy-binary.js';
import { EncodedSketch, type Sketch } from './sketch.js';
import { DAY } from '../infra/time.js';

const COPY_STAGE = text(sql.metricRollupStageCopy);

interface KeyedRow extends StoredRow {
  width: number;
}

async function writeCompacted(t: Queryable, rows: RowSet): Promise<void> {
  if (rows.size > 0) await t.none(sql.metricRollupUpsert, rows.columns());
}

export interface CompactResult {
  /** Partial rows merged away. */
  partial: number;
  /** metric_rollup rows written. */
  rows: number;
}

/**
 * Merges partial rows into metric_rollup, `batch` at a time, until none is left (or `rounds`
 * ran). Another process already compacting makes this call return at once: its work is the
 * same. Flushes are never blocked: they only append partial rows.
 */
export async function compactMetricRollups(
  db: Db,
  opts: { batch?: number; rounds?: number; signal?: AbortSignal | undefined } = {},
): Promise<CompactResult> {
  const result: CompactResult = { partial: 0, rows: 0 };
  for (let round = 0; round < (opts.rounds ?? 20); round++) {
    // Each round commits on its own: stopping between rounds leaves nothing half done.
    throwIfAborted(opts.signal);
    const taken = await cancellableCopyTx(db, opts.signal, async (t, client) => {
      const { locked } = await t.one<{ locked: boolean }>(sql.metricRollupLock, [false]);
      if (!locked) return 0;
      const partial = await t.manyOrNone<KeyedRow>(sql.metricRollupPartialTake, [
        opts.batch ?? 20_000,
      ]);
      if (partial.length === 0) return 0;
      const rows = new RowSet();
      for (const r of partial) rows.at(r.metric_id, widthIndexOf(r.width), r.bucket_ms).addRow(r);
      const keys = [
        ...new Map(partial.map((r) => [`${r.metric_id}:${r.width}:${r.bucket_ms}`, r])).values(),
      ];
      const current = await t.manyOrNone<KeyedRow>(sql.metricRollupCurrent, [
        keys.map((k) => k.metric_id),
        keys.map((k) => k.width),
        keys.map((k) => new Date(k.bucket_ms)),
      ]);
      for (const r of current) rows.at(r.metric_id, widthIndexOf(r.width), r.bucket_ms).addRow(r);
      await t.none(sql.metricRollupStageCreate);
      await copyIn(client, COPY_STAGE, rows.copyChunks(true));
      await t.none(sql.metricRollupUpsertStaged);
      result.partial += partial.length;
      result.rows += rows.size;
      return partial.length;
    });
    if (taken < (opts.batch ?? 20_000)) break;
  }
  return result;
}

interface SourceRow extends AggregateRow {
  kind: 'm' | 'h';
  ordinal: number;
  bucket_ms: number;
  sketch: Sketch;
}

/**
 * Rebuilds the metric rows of the given hours (1 minute to 1 hour) from the per-series
 * rollups, then the 1-day rows of their days from the 1-hour rows. Used by backfill (after it
 * recomputed rollup_1m) and by the upgrade that introduced metric rollups. The caller's
 * transaction must hold the exclusive locks of those hours (or run before any flush).
 */
export async function rebuildMetricRollups(
  t: Queryable,
  hours: number[],
  opts: { metricId?: number | null; log?: Logger } = {},
): Promise<{ hours: number; days: number; rows: number }> {
  const metricId = opts.metricId ?? null;
  await t.one(sql.metricRollupLock, [true]);
  let written = 0;
  const days = new Set<number>();
  let done = 0;
  let lastLog = Date.now();
  for (const hour of [...hours].sort((a, b) => a - b)) {
    await t.none(sql.metricRollupHourDelete, [new Date(hour), metricId]);
    const source = await t.manyOrNone<SourceRow>(sql.metricRollupRebuildSource, [
      new Date(hour),
      metricId,
    ]);
    const rows = new RowSet();
    const fromHourRows = source.some((r) => r.kind === 'h');
    for (const r of source) {
      const widths = r.kind === 'h' ? [1] : fromHourRows ? [2, 3] : [1, 2, 3];
      for (const w of widths) {
        const acc = rows.at(r.metric_id, w, floorTo(r.bucket_ms, WIDTHS_MS[w] as number));
        acc.addStats(r.count, r.sum, r.min, r.max, r.last, r.last_ms);
        acc.series.add(r.ordinal);
        acc.sketch.mergeJson(r.sketch);
      }
    }
    await writeCompacted(t, rows);
    written += rows.size;
    days.add(floorTo(hour, DAY));
    done += 1;
    if (opts.log && Date.now() - lastLog > 5_000) {
      lastLog = Date.now();
      opts.log.info({ done, hours: hours.length }, 'building metric rollups');
    }
  }
  for (const day of [...days].sort((a, b) => a - b)) {
    const hourRows = await t.manyOrNone<StoredRow>(sql.metricRollupDayTake, [
      new Date(day),
      metricId,
    ]);
    const rows = new RowSet();
    for (const r of hourRows) rows.at(r.metric_id, 0, day).addRow(r);
    await writeCompacted(t, rows);
    written += rows.size;
  }
  return { hours: hours.length, days: days.size, rows: written };
}

/** The upgrade step of migration 008: metric rollups for everything stored before it. */
/**
 * Migration 009's data step. An installation coming from 007 or older has no metric-level rows
 * yet: they are built from the stored rollups (with their quantiles). One already on 008 has
 * rows without quantiles: those are computed from the stored sketches, in batches.
 */
export async function completeMetricRollups(t: Queryable, log: Logger): Promise<void> {
  const { rows } = await t.one<{ rows: number }>(sql.metricRollupCount);
  if (rows === 0) {
    await buildMetricRollupsForStoredData(t, log);
    return;
  }
  const BATCH = 5_000;
  let after: { metric_id: number; width: number; bucket: Date } = {
    metric_id: -1,
    width: -1,
    bucket: new Date(0),
  };
  let filled = 0;
  for (;;) {
    const batch = await t.manyOrNone<{
      metric_id: number;
      width: number;
      bucket: Date;
      min: number;
      max: number;
      sketch: Buffer;
    }>(sql.metricRollupQuantilesMissing, [after.metric_id, after.width, after.bucket, BATCH]);
    if (batch.length === 0) break;
    const q = STORED_QUANTILES.map(() => [] as number[]);
    for (const r of batch) {
      const values = new EncodedSketch(r.sketch).quantiles(STORED_QUANTILES, r);
      values.forEach((v, i) => q[i]?.push(v));
    }
    await t.none(sql.metricRollupQuantilesSet, [
      batch.map((r) => r.metric_id),
      batch.map((r) => r.width),
      batch.map((r) => r.bucket),
      ...q,
    ]);
    filled += batch.length;
    after = batch[batch.length - 1] as (typeof batch)[number];
    if (batch.length < BATCH) break;
  }
  if (filled > 0) log.info({ rows: filled }, 'metric rollup quantiles stored');
}

async function buildMetricRollupsForStoredData(t: Queryable, log: Logger): Promise<void> {
  const hours = (await t.manyOrNone<{ hour_ms: number }>(sql.rollupHoursAll)).map((r) => r.hour_ms);
  if (hours.length === 0) return;
  log.info({ hours: hours.length }, 'building metric rollups from the stored rollups');
  const r = await rebuildMetricRollups(t, hours, { log });
  log.info(r, 'metric rollups built');
}
