-- A batch of compacted rows written before their quantiles were stored (migration 009), in key
-- order after the given key. Params: $1 metric id, $2 width, $3 bucket (the last key seen),
-- $4 batch size
SELECT metric_id, width, bucket, min, max, sketch
FROM metric_rollup
WHERE q50 IS NULL AND (metric_id, width, bucket) > ($1::int, $2::int, $3::timestamptz)
ORDER BY metric_id, width, bucket
LIMIT $4::int
