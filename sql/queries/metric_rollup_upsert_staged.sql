-- Writes the staged whole metric_rollup rows (merged by the caller, which holds the compaction
-- lock, so nothing else writes metric_rollup meanwhile): new keys are inserted, existing ones
-- replaced. As metric_rollup_upsert.sql, from metric_rollup_stage instead of arrays.
INSERT INTO metric_rollup AS r (metric_id, width, bucket, count, sum, min, max, last, last_ts, series, sketch,
                                q50, q90, q95, q99)
SELECT metric_id, width, bucket, count, sum, min, max, last, last_ts, series, sketch, q50, q90, q95, q99
FROM metric_rollup_stage
ORDER BY 1, 2, 3
ON CONFLICT (metric_id, width, bucket) DO UPDATE SET
  count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
  last = EXCLUDED.last, last_ts = EXCLUDED.last_ts, series = EXCLUDED.series, sketch = EXCLUDED.sketch,
  q50 = EXCLUDED.q50, q90 = EXCLUDED.q90, q95 = EXCLUDED.q95, q99 = EXCLUDED.q99
