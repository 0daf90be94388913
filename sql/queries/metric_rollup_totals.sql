-- Metric-level rows (compacted and partial alike) whose buckets fall in the given segments,
-- merged per metric: segment i holds the buckets of width $1[i] that start in [$2[i], $3[i]).
-- Counts, sums and extremes are merged here; sketches and series sets come back concatenated
-- (sketches are self-delimiting, each series set is prefixed with its length) and are merged
-- in Node, so a whole range is one row per metric, whatever number of rows it read.
-- One metric ($4), or every metric when $4 is null.
-- Params: $1 widths (int[], seconds), $2 from (timestamptz[]), $3 to (timestamptz[]),
--         $4 metric id (int)
SELECT r.metric_id,
       sum(r.count)::float8 AS count, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max,
       (array_agg(r.last ORDER BY r.last_ts DESC))[1] AS last,
       (extract(epoch FROM max(r.last_ts)) * 1000)::float8 AS last_ms,
       string_agg(int4send(length(r.series)) || r.series, ''::bytea) AS series,
       string_agg(r.sketch, ''::bytea) AS sketch
FROM unnest($1::int[], $2::timestamptz[], $3::timestamptz[]) AS s(width, lo, hi)
CROSS JOIN LATERAL (
  SELECT m.metric_id, m.bucket, m.count, m.sum, m.min, m.max, m.last, m.last_ts, m.series, m.sketch
  FROM metric_rollup m
  WHERE m.width = s.width AND m.bucket >= s.lo AND m.bucket < s.hi
    AND ($4::int IS NULL OR m.metric_id = $4::int)
  UNION ALL
  SELECT p.metric_id, p.bucket, p.count, p.sum, p.min, p.max, p.last, p.last_ts, p.series, p.sketch
  FROM metric_rollup_partial p
  WHERE p.width = s.width AND p.bucket >= s.lo AND p.bucket < s.hi
    AND ($4::int IS NULL OR p.metric_id = $4::int)
) r
GROUP BY 1
