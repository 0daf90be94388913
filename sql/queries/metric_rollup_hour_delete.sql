-- Removes the 1-minute, 5-minute and 1-hour metric rows (compacted and partial) of one hour,
-- of one metric or of all, before they are rebuilt from the per-series rollups.
-- Params: $1 hour start (timestamptz), $2 metric id (int, null for all)
WITH compacted AS (
  DELETE FROM metric_rollup
  WHERE width IN (60, 300, 3600) AND bucket >= $1::timestamptz AND bucket < $1::timestamptz + interval '1 hour'
    AND ($2::int IS NULL OR metric_id = $2::int)
  RETURNING 1
)
DELETE FROM metric_rollup_partial
WHERE width IN (60, 300, 3600) AND bucket >= $1::timestamptz AND bucket < $1::timestamptz + interval '1 hour'
  AND ($2::int IS NULL OR metric_id = $2::int)
