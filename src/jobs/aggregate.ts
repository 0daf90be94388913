// The aggregate job: rebuilds rollup_1h (and the regression slots) for closed hours that
// flushes marked dirty (new or late points), never rescanning hours nothing touched. Readers take a dirty or still-open
// hour from rollup_1m, so a rollup_1h row is only ever read once it is complete. It also
// compacts the metric-level rollups (partial rows into one row per metric, width and bucket).
import { cancellableTx } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { compactMetricRollups } from '../metrics/metric-rollup-upkeep.js';
import { sql } from '../metrics/queries.js';
import { MINUTE, HOUR } from '../infra/time.js';

export interface AggregatePayload {
  reason: 'schedule' | 'manual';
}

export interface AggregateDeps {
  db: Db;
  log: Logger;
  /**
   * Hours per transaction (default 1): an hour of 10,000 series at one point a minute is
   * 600,000 rollup_1m rows, and a whole day of them in one statement outlived the query timeout.
   */
  batchHours?: number;
  /** Stop starting new transactions after this long (default 60 s). */
  budgetMs?: number;
  now?: () => number;
  /**
   * Stops the job (shutdown): the running transaction is cancelled and rolls back, so its
   * hours stay marked dirty for the next run; hours committed before stay built.
   */
  signal?: AbortSignal;
}

export interface AggregateResult {
  hours: number;
  rows: number;
  /** Metric-level partial rows merged by compaction. */
  compacted: number;
}

/**
 * Rebuilds what closed hours are made into from their rollup_1m minutes: rollup_1h and the
 * regression slots. The caller holds the hours (taken off rollup_dirty_hours, in its
 * transaction). Returns the rollup_1h rows written.
 */
export async function rebuildHours(t: Pick<Db, 'none' | 'result'>, hours: Date[]): Promise<number> {
  const built = await t.result(sql.rollup1hBuild, [hours]);
  await t.none(sql.regressionSlotsDelete, [hours]);
  await t.none(sql.regressionSlotsBuild, [hours]);
  return built.rowCount;
}

export async function aggregate(
  deps: AggregateDeps,
  _payload: AggregatePayload,
): Promise<AggregateResult> {
  const result: AggregateResult = { hours: 0, rows: 0, compacted: 0 };
  const now = deps.now ?? Date.now;
  // Bounded in time: what is left, and hours that keep receiving late points, are taken by
  // the next tick.
  const started = Date.now();
  while (Date.now() - started < (deps.budgetMs ?? MINUTE)) {
    const done = await cancellableTx(deps.db, deps.signal, 'aggregate', async (t) => {
      const candidates = await t.manyOrNone<{ bucket: Date }>(sql.rollupDirtyCandidates, [
        new Date(now()),
        deps.batchHours ?? 1,
      ]);
      if (candidates.length === 0) return 0;
      // Wait for every flush still writing these hours (they hold shared locks until commit);
      // new ones wait for us. Only then unmark the hours and read rollup_1m: nothing
      // uncommitted can be missed, and a later flush marks its hour again.
      await t.one(sql.rollupHoursLock, [candidates.map((c) => c.bucket.getTime() / HOUR)]);
      const taken = await t.manyOrNone<{ bucket: Date }>(sql.rollupDirtyTake, [
        candidates.map((c) => c.bucket),
      ]);
      if (taken.length === 0) return candidates.length;
      result.hours += taken.length;
      result.rows += await rebuildHours(
        t,
        taken.map((r) => r.bucket),
      );
      return candidates.length;
    });
    if (done === 0) break;
  }
  result.compacted = (await compactMetricRollups(deps.db, { signal: deps.signal })).partial;
  if (result.hours > 0) deps.log.debug(result, 'rollup_1h rebuilt');
  return result;
}

/**
 * The aggregate job run again until no closed dirty hour is left (at most `calls` runs of a
 * minute each: a live system marking hours all the while does not keep it going), as a command
 * that wrote history runs it before it reports. Returns the hours and rows of all runs.
 */
export async function aggregateAll(
  deps: AggregateDeps,
  calls = 10,
): Promise<{ hours: number; rows: number }> {
  const total = { hours: 0, rows: 0 };
  for (let call = 0; call < calls; call++) {
    const r = await aggregate(deps, { reason: 'manual' });
    total.hours += r.hours;
    total.rows += r.rows;
    if (r.hours === 0) break;
  }
  return total;
}
