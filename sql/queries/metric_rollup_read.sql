-- Metric-level rows (compacted and partial alike) of one metric whose buckets fall in the
-- given segments: segment i holds the buckets of width $1[i] that start in [$2[i], $3[i]).
-- For trends, where most output buckets are one row already; the caller merges per bucket.
-- (metric_rollup_totals.sql merges in SQL, for ranges that read many rows per answer.)
-- Params: $1 widths (int[], seconds), $2 from (timestamptz[]), $3 to (timestamptz[]),
--         $4 metric id (int)
SELECT r.metric_id, (extract(epoch FROM r.bucket) * 1000)::float8 AS bucket_ms,
       r.count::float8 AS count, r.sum, r.min, r.max, r.last,
       (extract(epoch FROM r.last_ts) * 1000)::float8 AS last_ms, r.series, r.sketch
FROM unnest($1::int[], $2::timestamptz[], $3::timestamptz[]) AS s(width, lo, hi)
CROSS JOIN LATERAL (
  SELECT m.metric_id, m.bucket, m.count, m.sum, m.min, m.max, m.last, m.last_ts, m.series, m.sketch
  FROM metric_rollup m
  WHERE m.metric_id = $4::int AND m.width = s.width AND m.bucket >= s.lo AND m.bucket < s.hi
  UNION ALL
  SELECT p.metric_id, p.bucket, p.count, p.sum, p.min, p.max, p.last, p.last_ts, p.series, p.sketch
  FROM metric_rollup_partial p
  WHERE p.metric_id = $4::int AND p.width = s.width AND p.bucket >= s.lo AND p.bucket < s.hi
) r
