-- Metric-level rows (compacted and partial alike) of one metric whose buckets fall in the
-- given segments: segment i holds the buckets of width $1[i] that start in [$2[i], $3[i]).
-- For trends, where most output buckets (of $5 ms) are one compacted row; the caller merges
-- the others. (metric_rollup_totals.sql merges in SQL, for ranges that read many rows.)
--
-- The rows come back packed into one bytea, each as
--   bucket start (epoch ms), count, sum, min, max: float8, big-endian; then
--   either -1 (int4) and the row's stored p50, p90, p95, p99 (float8), for a compacted row
--   with stored quantiles that is alone in its output bucket (one of the output width with no
--   partial row beside it: most of them),
--   or the sketch's length (int4) and its bytes, for any other row.
-- A 24 h trend at 5 minutes is 288 rows; as rows, the client would parse 2,000 text fields,
-- as one value it decodes one hex string, and most buckets need no sketch. NULL when no row
-- matches.
-- Params: $1 widths (int[], seconds), $2 from (timestamptz[]), $3 to (timestamptz[]),
--         $4 metric id (int), $5 output bucket width (float8, ms)
SELECT string_agg(
         float8send(r.bucket_ms) || float8send(r.count::float8) || float8send(r.sum)
           || float8send(r.min) || float8send(r.max)
           || CASE
                WHEN r.q50 IS NOT NULL AND r.alone
                THEN int4send(-1) || float8send(r.q50) || float8send(r.q90) || float8send(r.q95)
                       || float8send(r.q99)
                ELSE int4send(octet_length(r.sketch)) || r.sketch
              END,
         ''::bytea) AS packed
FROM (
  SELECT (extract(epoch FROM x.bucket) * 1000)::float8 AS bucket_ms, x.*
  FROM unnest($1::int[], $2::timestamptz[], $3::timestamptz[]) AS s(width, lo, hi)
  CROSS JOIN LATERAL (
    -- A compacted row is its output bucket's only row when its width is the output width and
    -- no partial row waits for the same key.
    SELECT m.bucket, m.count, m.sum, m.min, m.max, m.sketch, m.q50, m.q90, m.q95, m.q99,
           s.width * 1000 = $5::float8 AND NOT EXISTS (
             SELECT 1 FROM metric_rollup_partial q
             WHERE q.metric_id = $4::int AND q.width = s.width AND q.bucket = m.bucket
           ) AS alone
    FROM metric_rollup m
    WHERE m.metric_id = $4::int AND m.width = s.width AND m.bucket >= s.lo AND m.bucket < s.hi
    UNION ALL
    SELECT p.bucket, p.count, p.sum, p.min, p.max, p.sketch, NULL, NULL, NULL, NULL, false
    FROM metric_rollup_partial p
    WHERE p.metric_id = $4::int AND p.width = s.width AND p.bucket >= s.lo AND p.bucket < s.hi
  ) x
) r
