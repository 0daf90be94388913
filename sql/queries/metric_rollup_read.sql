-- Metric-level rows (compacted and partial alike) of one metric whose buckets fall in the
-- given segments: segment i holds the buckets of width $1[i] that start in [$2[i], $3[i]).
-- For trends, where most output buckets are one row already; the caller merges per bucket.
-- (metric_rollup_totals.sql merges in SQL, for ranges that read many rows per answer.)
--
-- The rows come back packed into one bytea, each as
--   bucket start (epoch ms), count, sum, min, max: float8, big-endian;
--   sketch length: int4, big-endian; the sketch's bytes.
-- A 24 h trend at 5 minutes is 288 rows; as rows, the client would parse 2,000 text fields,
-- as one value it decodes one hex string. NULL when no row matches.
-- Params: $1 widths (int[], seconds), $2 from (timestamptz[]), $3 to (timestamptz[]),
--         $4 metric id (int)
SELECT string_agg(
         float8send((extract(epoch FROM r.bucket) * 1000)::float8)
           || float8send(r.count::float8) || float8send(r.sum)
           || float8send(r.min) || float8send(r.max)
           || int4send(octet_length(r.sketch)) || r.sketch,
         ''::bytea) AS packed
FROM unnest($1::int[], $2::timestamptz[], $3::timestamptz[]) AS s(width, lo, hi)
CROSS JOIN LATERAL (
  SELECT m.bucket, m.count, m.sum, m.min, m.max, m.sketch
  FROM metric_rollup m
  WHERE m.metric_id = $4::int AND m.width = s.width AND m.bucket >= s.lo AND m.bucket < s.hi
  UNION ALL
  SELECT p.bucket, p.count, p.sum, p.min, p.max, p.sketch
  FROM metric_rollup_partial p
  WHERE p.metric_id = $4::int AND p.width = s.width AND p.bucket >= s.lo AND p.bucket < s.hi
) r
