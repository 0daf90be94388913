-- The raw points of one hour (packed or not), optionally of one metric, to recompute its rollups from.
-- Params: $1 hour start (timestamptz), $2 metric name (text, null for all)
SELECT p.series_id, (extract(epoch FROM p.ts) * 1000)::float8 AS ts_ms, p.value
FROM points_all p
WHERE p.ts >= $1::timestamptz AND p.ts < $1::timestamptz + interval '1 hour'
  AND ($2::text IS NULL OR p.series_id IN (SELECT id FROM series WHERE metric_name = $2::text))
