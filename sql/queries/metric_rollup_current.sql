-- The metric_rollup rows for the given keys, locked until the caller commits.
-- Params: $1 metric ids (int[]), $2 widths (int[]), $3 buckets (timestamptz[])
SELECT r.metric_id, r.width, (extract(epoch FROM r.bucket) * 1000)::float8 AS bucket_ms,
       r.count::float8 AS count, r.sum, r.min, r.max, r.last,
       (extract(epoch FROM r.last_ts) * 1000)::float8 AS last_ms, r.series, r.sketch
FROM metric_rollup r
JOIN unnest($1::int[], $2::int[], $3::timestamptz[]) AS k(metric_id, width, bucket)
  ON r.metric_id = k.metric_id AND r.width = k.width AND r.bucket = k.bucket
FOR UPDATE OF r
