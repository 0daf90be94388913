-- The merged sketch of a set of series over [$2, $3), as (bucket key, count) rows.
-- Params: $1 series ids (bigint[]), $2 from, $3 to (timestamptz)
SELECT e.key, sum(e.value::bigint)::float8 AS count
FROM rollup_1m r, jsonb_each_text(r.sketch) AS e
WHERE r.series_id = ANY($1::bigint[]) AND r.bucket >= $2::timestamptz AND r.bucket < $3::timestamptz
GROUP BY e.key
