// Named SQL statements, one per file under sql/queries/, loaded once.
// Every value reaches them as a parameter; nothing here is built from input.
import { fileURLToPath } from 'node:url';
import { pgp } from '../infra/db.js';

const dir = fileURLToPath(new URL('../../sql/queries/', import.meta.url));

function load(name: string) {
  const file = new pgp.QueryFile(`${dir}${name}.sql`, { minify: true, noWarnings: true });
  if (file.error) throw file.error;
  return file;
}

export const sql = {
  seriesInsert: load('series_insert'),
  seriesIds: load('series_ids'),
  seriesKnown: load('series_known'),
  pointsCopy: load('points_copy'),
  pointsStagingCreate: load('points_staging_create'),
  pointsStagingCopy: load('points_staging_copy'),
  pointsInsertFromStagingReturning: load('points_insert_from_staging_returning'),
  pointsStoredInRanges: load('points_stored_in_ranges'),
  rollup1mAppend: load('rollup_1m_append'),
  rollup1mCopy: load('rollup_1m_copy'),
  rollupDirtyMark: load('rollup_dirty_mark'),
  rollupDirtyCandidates: load('rollup_dirty_candidates'),
  rollupDirtyTake: load('rollup_dirty_take'),
  rollupHoursLock: load('rollup_hours_lock'),
  rollup1hBuild: load('rollup_1h_build'),
  rollup1mHourTotals: load('rollup_1m_hour_totals'),
  rollup1hDeleteKeys: load('rollup_1h_delete_keys'),
  rollup1hCopy: load('rollup_1h_copy'),
  dashboardAlertCandidates: load('dashboard_alert_candidates'),
  seriesPage: load('series_page'),
  metricsSeriesCounts: load('metrics_series_counts'),
  metricId: load('metric_id'),
  metricsList: load('metrics_list'),
  metricRollupPartialCopy: load('metric_rollup_partial_copy'),
  metricRollupRead: load('metric_rollup_read'),
  metricRollupQuantilesMissing: load('metric_rollup_quantiles_missing'),
  metricRollupQuantilesSet: load('metric_rollup_quantiles_set'),
  metricRollupCount: load('metric_rollup_count'),
  metricRollupTotals: load('metric_rollup_totals'),
  metricRollupPartialTake: load('metric_rollup_partial_take'),
  metricRollupCurrent: load('metric_rollup_current'),
  metricRollupUpsert: load('metric_rollup_upsert'),
  metricRollupStageCreate: load('metric_rollup_stage_create'),
  metricRollupStageCopy: load('metric_rollup_stage_copy'),
  metricRollupUpsertStaged: load('metric_rollup_upsert_staged'),
  metricRollupLock: load('metric_rollup_lock'),
  metricRollupHourDelete: load('metric_rollup_hour_delete'),
  metricRollupRebuildSource: load('metric_rollup_rebuild_source'),
  metricRollupDayTake: load('metric_rollup_day_take'),
  metricRollupExpire: load('metric_rollup_expire'),
  rollupHoursAll: load('rollup_hours_all'),
  regressionUnits: load('regression_units'),
  regressionMinutes: load('regression_minutes'),
  regressionSketch: load('regression_sketch'),
  regressionSlotsRead: load('regression_slots_read'),
  regressionSlotsDelete: load('regression_slots_delete'),
  regressionSlotsBuild: load('regression_slots_build'),
  regressionSlotsCopy: load('regression_slots_copy'),
  regressionSlotsExpire: load('regression_slots_expire'),
  regressionLock: load('regression_lock'),
  regressionRunInsert: load('regression_run_insert'),
  regressionOpen: load('regression_open'),
  regressionClose: load('regression_close'),
  regressionLatest: load('regression_latest'),
  regressionLatestRun: load('regression_latest_run'),
  regressionHistory: load('regression_history'),
  regressionExpire: load('regression_expire'),
  rollupHoursLockShared: load('rollup_hours_lock_shared'),
  rollupHourLock: load('rollup_hour_lock'),
  backfillPoints: load('backfill_points'),
  backfillRollup1mDelete: load('backfill_rollup_1m_delete'),
  backfillRollup1mCurrent: load('backfill_rollup_1m_current'),
  rollupTrend: load('rollup_trend'),
  pointsPartitionsEnsure: load('points_partitions_ensure'),
  pointsPartitionsDrop: load('points_partitions_drop'),
  pointsDaysToPack: load('points_days_to_pack'),
  pointsPackDay: load('points_pack_day'),
  pointsPackedDaysOf: load('points_packed_days_of'),
  pointsPackedHeld: load('points_packed_held'),
  rollup1mExpire: load('rollup_1m_expire'),
  rollup1hExpire: load('rollup_1h_expire'),
  samplePostgresActivity: load('sample_postgres_activity'),
  samplePostgresDatabase: load('sample_postgres_database'),
};

/** The text of a statement, for APIs that take a string (COPY streams). */
export function text(file: ReturnType<typeof load>): string {
  return pgp.as.format(file);
}
