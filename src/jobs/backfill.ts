// Backfill: recomputes rollups from the raw points for a range, one job per hour (children of
// one BullMQ flow, so the whole run shows in Bull Board), then rebuilds rollup_1h. Recomputing
// replaces what was there, so running it twice gives identical rollups.
import { cancellableTx } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { metricIdOf } from '../metrics/metric-rollup.js';
import { rebuildMetricRollups } from '../metrics/metric-rollup-upkeep.js';
import { sql } from '../metrics/queries.js';
import { aggregateMinutes, minuteSketchJson } from '../metrics/rollup.js';
import { updateRollups } from '../metrics/store.js';
import { aggregate } from './aggregate.js';
import { HOUR } from '../infra/time.js';

export type BackfillPayload =
  | { kind: 'hour'; hour: string; metric: string | null; dryRun: boolean }
  | { kind: 'range'; from: string; to: string; metric: string | null; dryRun: boolean };

export interface BackfillHourResult {
  hour: string;
  points: number;
  /** rollup_1m rows after the recompute. */
  minutes: number;
  /** rollup_1m rows that were missing or differed (in a dry run: would be written). */
  changed: number;
}

export interface BackfillDeps {
  db: Db;
  log: Logger;
  /** Cancels the hour's transaction (shutdown): it rolls back, and the hour is done again. */
  signal?: AbortSignal;
}

interface Current {
  series_id: number;
  bucket_ms: number;
  count: string;
  sum: number;
  min: number;
  max: number;
  last: number;
  sketch: Record<string, number>;
}

export async function backfillHour(
  deps: BackfillDeps,
  p: { hour: string; metric: string | null; dryRun: boolean },
): Promise<BackfillHourResult> {
  const start = new Date(p.hour);
  if (Number.isNaN(start.getTime()) || start.getTime() % HOUR !== 0)
    throw new RangeError(`not the start of an hour: ${p.hour}`);
  return cancellableTx(deps.db, deps.signal, 'backfill hour', async (t) => {
    // Waits for flushes writing this hour to commit, and keeps new ones out until we commit.
    await t.one(sql.rollupHourLock, [start.getTime() / HOUR]);
    const rows = await t.manyOrNone<{ series_id: number; ts_ms: number; value: number }>(
      sql.backfillPoints,
      [start, p.metric],
    );
    const m = aggregateMinutes({
      seriesId: rows.map((r) => r.series_id),
      ts: rows.map((r) => r.ts_ms),
      value: rows.map((r) => r.value),
    });
    const current = await t.manyOrNone<Current>(sql.backfillRollup1mCurrent, [start, p.metric]);
    const changed = countChanged(m, current);
    if (!p.dryRun) {
      await t.none(sql.backfillRollup1mDelete, [start, p.metric]);
      if (m.length > 0) await updateRollups(t, m);
      else await t.none(sql.rollupDirtyMark, [[start]]);
      // The metric-level rows of this hour (and its day) follow the recomputed minutes.
      const metricId = p.metric === null ? null : await metricIdOf(t, p.metric);
      if (p.metric === null || metricId !== null)
        await rebuildMetricRollups(t, [start.getTime()], { metricId });
    }
    return { hour: start.toISOString(), points: rows.length, minutes: m.length, changed };
  });
}

/** Minute rows of the recompute that are missing from, or differ from, what is stored. */
function countChanged(m: ReturnType<typeof aggregateMinutes>, current: Current[]): number {
  const stored = new Map(current.map((c) => [`${c.series_id}:${c.bucket_ms}`, c]));
  let changed = current.length - m.length > 0 ? current.length - m.length : 0;
  for (let i = 0; i < m.length; i++) {
    const c = stored.get(`${m.seriesIds[i]}:${m.buckets[i] as number}`);
    const same =
      c !== undefined &&
      Number(c.count) === m.counts[i] &&
      c.sum === m.sums[i] &&
      c.min === m.mins[i] &&
      c.max === m.maxes[i] &&
      c.last === m.lasts[i] &&
      JSON.stringify(sortKeys(c.sketch)) ===
        JSON.stringify(sortKeys(JSON.parse(minuteSketchJson(m, i)) as Record<string, number>));
    if (!same) changed += 1;
  }
  return changed;
}

function sortKeys(o: Record<string, number>): [string, number][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export interface BackfillRangeResult {
  hours: number;
  points: number;
  minutes: number;
  changed: number;
  rollup1hRows: number;
  dryRun: boolean;
}

/** The parent job: every hour is done; sums their results and rebuilds rollup_1h. */
export async function backfillRange(
  deps: BackfillDeps,
  p: { dryRun: boolean },
  children: BackfillHourResult[],
): Promise<BackfillRangeResult> {
  const sum = (f: (c: BackfillHourResult) => number) => children.reduce((n, c) => n + f(c), 0);
  const rebuilt = p.dryRun
    ? { rows: 0 }
    : await aggregate({ db: deps.db, log: deps.log, signal: deps.signal }, { reason: 'manual' });
  return {
    hours: children.length,
    points: sum((c) => c.points),
    minutes: sum((c) => c.minutes),
    changed: sum((c) => c.changed),
    rollup1hRows: rebuilt.rows,
    dryRun: p.dryRun,
  };
}

/** The hours a range covers: every hour that overlaps [from, to). */
export function hoursIn(from: number, to: number): string[] {
  const hours: string[] = [];
  for (let h = Math.floor(from / HOUR) * HOUR; h < to; h += HOUR)
    hours.push(new Date(h).toISOString());
  return hours;
}
