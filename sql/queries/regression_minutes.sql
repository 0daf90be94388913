-- Per-minute average of a set of series (one metric, or one series) over [$2, $3).
-- Params: $1 series ids (bigint[]), $2 from, $3 to (timestamptz)
SELECT (extract(epoch FROM bucket) * 1000)::float8 AS t, sum(sum) / sum(count) AS v
FROM rollup_1m
WHERE series_id = ANY($1::bigint[]) AND bucket >= $2::timestamptz AND bucket < $3::timestamptz
GROUP BY bucket
ORDER BY bucket
