-- For rebuilding one day's 1-day metric rows: removes them (compacted and partial) and returns,
-- from the same snapshot, the day's 1-hour rows they are rebuilt from. One statement, so a
-- flush committing meanwhile is either in both (removed day row, returned hour row) or in
-- neither. (PostgreSQL runs the DELETEs in WITH whether or not their output is read.)
-- Params: $1 day start (timestamptz), $2 metric id (int, null for all)
WITH compacted AS (
  DELETE FROM metric_rollup
  WHERE width = 86400 AND bucket = $1::timestamptz AND ($2::int IS NULL OR metric_id = $2::int)
  RETURNING 1
), partial AS (
  DELETE FROM metric_rollup_partial
  WHERE width = 86400 AND bucket = $1::timestamptz AND ($2::int IS NULL OR metric_id = $2::int)
  RETURNING 1
), hours AS (
  SELECT metric_id, bucket, count, sum, min, max, last, last_ts, series, sketch FROM metric_rollup
  WHERE width = 3600 AND bucket >= $1::timestamptz AND bucket < $1::timestamptz + interval '1 day'
    AND ($2::int IS NULL OR metric_id = $2::int)
  UNION ALL
  SELECT metric_id, bucket, count, sum, min, max, last, last_ts, series, sketch FROM metric_rollup_partial
  WHERE width = 3600 AND bucket >= $1::timestamptz AND bucket < $1::timestamptz + interval '1 day'
    AND ($2::int IS NULL OR metric_id = $2::int)
)
SELECT metric_id, (extract(epoch FROM bucket) * 1000)::float8 AS bucket_ms, count::float8 AS count,
       sum, min, max, last, (extract(epoch FROM last_ts) * 1000)::float8 AS last_ms, series, sketch
FROM hours
