-- What one hour's metric rows are rebuilt from, per series: its rollup_1m rows (kind 'm'), and
-- its rollup_1h row (kind 'h') when the hour is not dirty. The hour's 1-hour metric row comes
-- from the rollup_1h rows when there are any, else from the minutes, as readers chose before
-- metric rollups existed.
-- Params: $1 hour start (timestamptz), $2 metric id (int, null for all)
SELECT 'm' AS kind, s.metric_id, s.ordinal, (extract(epoch FROM r.bucket) * 1000)::float8 AS bucket_ms,
       r.count::float8 AS count, r.sum, r.min, r.max, r.last,
       (extract(epoch FROM r.last_ts) * 1000)::float8 AS last_ms, r.sketch
FROM rollup_1m r
JOIN series s ON s.id = r.series_id
WHERE r.bucket >= $1::timestamptz AND r.bucket < $1::timestamptz + interval '1 hour'
  AND ($2::int IS NULL OR s.metric_id = $2::int)
UNION ALL
SELECT 'h', s.metric_id, s.ordinal, (extract(epoch FROM r.bucket) * 1000)::float8,
       r.count::float8, r.sum, r.min, r.max, r.last, (extract(epoch FROM r.last_ts) * 1000)::float8,
       r.sketch
FROM rollup_1h r
JOIN series s ON s.id = r.series_id
WHERE r.bucket = $1::timestamptz
  AND NOT EXISTS (SELECT 1 FROM rollup_dirty_hours d WHERE d.bucket = $1::timestamptz)
  AND ($2::int IS NULL OR s.metric_id = $2::int)
