// The maintenance job: keeps daily partitions of points made ahead, and applies retention —
// whole partitions past RAW_RETENTION are dropped (cheap, no row-by-row delete), rollups past
// their own retention are deleted in short batches. Nothing inside retention is touched. Then
// it packs the days of raw points that are COMPRESS_AFTER old (src/metrics/packing.ts).
import { cancellable, throwIfAborted, type Task } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { packDays, type PackedDay } from '../metrics/packing.js';
import { ensurePartitions } from '../metrics/partitions.js';
import { sql } from '../metrics/queries.js';
import type { SeriesRegistry } from '../metrics/series-registry.js';

export interface MaintenancePayload {
  reason: 'schedule' | 'manual';
}

export interface MaintenanceDeps {
  db: Db;
  log: Logger;
  retention: {
    rawMs: number;
    rollup1mMs: number;
    rollup1hMs: number;
    regressionMs: number;
    /** Days end this long ago are packed (COMPRESS_AFTER); null or absent: never. */
    compressAfterMs?: number | null;
  };
  /** The active-series registry, whose idle series stop counting towards the series limits. */
  series?: Pick<SeriesRegistry, 'trim'>;
  now?: () => number;
  /**
   * Stops the job between statements and cancels a running delete (shutdown). Every statement
   * commits on its own and only removes what is past retention, so a rerun finishes the rest.
   */
  signal?: AbortSignal;
}

export interface MaintenanceResult {
  partitionsCreated: number;
  partitionsDropped: string[];
  rollup1mDeleted: number;
  rollup1hDeleted: number;
  /** Regression slots past rollup_1m's retention (they are made of its minutes). */
  regressionSlotsDeleted: number;
  /** Metric-level rows past the retention of their width (1m/5m as rollup_1m, 1h/1d as rollup_1h). */
  metricRollupDeleted: number;
  /** Closed regressions deleted (their runs and report rows past retention go with them). */
  regressionsDeleted: number;
  /** Series idle past SERIES_IDLE_TIMEOUT that stopped counting as active (their data stays). */
  seriesIdled: number;
  /** Days of raw points packed by this run (late points merged into packed days included). */
  daysPacked: PackedDay[];
  /** Days left for the next run: a lock was not had in time. */
  packSkipped: string[];
}

const DELETE_BATCH = 50_000;

/** Runs `delete` (one batch, returns rows deleted) until a batch is short of DELETE_BATCH. */
function batches(
  deps: MaintenanceDeps,
  tag: string,
  del: (t: Task) => Promise<number>,
): Promise<number> {
  return cancellable(deps.db, deps.signal, tag, async (t) => {
    let total = 0;
    for (;;) {
      throwIfAborted(deps.signal);
      const n = await del(t);
      total += n;
      if (n < DELETE_BATCH) return total;
    }
  });
}

function expire(
  deps: MaintenanceDeps,
  query: (typeof sql)['rollup1mExpire'],
  cutoff: Date,
): Promise<number> {
  return batches(
    deps,
    'maintenance expire',
    async (t) => (await t.result(query, [cutoff, DELETE_BATCH])).rowCount,
  );
}

function expireMetric(deps: MaintenanceDeps, widths: number[], cutoff: Date): Promise<number> {
  return batches(
    deps,
    'maintenance expire metric rollups',
    async (t) =>
      (await t.one<{ deleted: number }>(sql.metricRollupExpire, [widths, cutoff, DELETE_BATCH]))
        .deleted,
  );
}

export async function maintenance(
  deps: MaintenanceDeps,
  _payload: MaintenancePayload,
): Promise<MaintenanceResult> {
  const now = (deps.now ?? Date.now)();
  throwIfAborted(deps.signal);
  const partitionsCreated = await ensurePartitions(deps.db, now);
  throwIfAborted(deps.signal);
  const dropped = await deps.db.manyOrNone<{ dropped: string }>(sql.pointsPartitionsDrop, [
    new Date(now - deps.retention.rawMs),
  ]);
  const result: MaintenanceResult = {
    partitionsCreated,
    partitionsDropped: dropped.map((r) => r.dropped),
    rollup1mDeleted: await expire(
      deps,
      sql.rollup1mExpire,
      new Date(now - deps.retention.rollup1mMs),
    ),
    regressionSlotsDeleted: await expire(
      deps,
      sql.regressionSlotsExpire,
      new Date(now - deps.retention.rollup1mMs),
    ),
    rollup1hDeleted: await expire(
      deps,
      sql.rollup1hExpire,
      new Date(now - deps.retention.rollup1hMs),
    ),
    metricRollupDeleted:
      (await expireMetric(deps, [60, 300], new Date(now - deps.retention.rollup1mMs))) +
      (await expireMetric(deps, [3600, 86400], new Date(now - deps.retention.rollup1hMs))),
    regressionsDeleted: await cancellable(
      deps.db,
      deps.signal,
      'maintenance expire regressions',
      async (t) =>
        (await t.result(sql.regressionExpire, [new Date(now - deps.retention.regressionMs)]))
          .rowCount,
    ),
    seriesIdled: (await deps.series?.trim(now)) ?? 0,
    daysPacked: [],
    packSkipped: [],
  };
  const { compressAfterMs } = deps.retention;
  if (compressAfterMs !== undefined && compressAfterMs !== null) {
    const pack = await packDays(deps.db, new Date(now - compressAfterMs), deps.signal);
    result.daysPacked = pack.packed;
    result.packSkipped = pack.skipped;
  }
  if (
    result.partitionsCreated > 0 ||
    result.partitionsDropped.length > 0 ||
    result.rollup1mDeleted > 0 ||
    result.rollup1hDeleted > 0 ||
    result.regressionSlotsDeleted > 0 ||
    result.metricRollupDeleted > 0 ||
    result.seriesIdled > 0 ||
    result.daysPacked.length > 0 ||
    result.packSkipped.length > 0
  ) {
    deps.log.info(result, 'maintenance: partitions and retention applied');
  }
  return result;
}
