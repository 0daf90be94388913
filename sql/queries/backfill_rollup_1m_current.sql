-- The rollup_1m rows of one hour (optionally of one metric), to compare in a dry run.
-- Params: $1 hour start (timestamptz), $2 metric name (text, null for all)
SELECT series_id, (extract(epoch FROM bucket) * 1000)::float8 AS bucket_ms, count, sum, min, max, last, sketch
FROM rollup_1m
WHERE bucket >= $1::timestamptz AND bucket < $1::timestamptz + interval '1 hour'
  AND ($2::text IS NULL OR series_id IN (SELECT id FROM series WHERE metric_name = $2::text))
