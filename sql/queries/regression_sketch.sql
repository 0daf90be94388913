-- The merged sketch of a set of series over [$2, $3), as (bucket key, count) rows: rollup_1h
-- for the whole, clean hours inside the range, rollup_1m for the rest (a week is 168 hourly
-- sketches and a few minutes, not 10,080 minute sketches).
-- Params: $1 series ids (bigint[]), $2 from, $3 to (timestamptz, minute-aligned)
WITH dirty AS (
  SELECT bucket FROM rollup_dirty_hours
), src AS (
  SELECT h.sketch
  FROM rollup_1h h
  WHERE h.series_id = ANY($1::bigint[])
    AND h.bucket >= $2::timestamptz AND h.bucket + interval '1 hour' <= $3::timestamptz
    AND h.bucket NOT IN (SELECT bucket FROM dirty)
  UNION ALL
  SELECT m.sketch
  FROM rollup_1m m
  WHERE m.series_id = ANY($1::bigint[])
    AND m.bucket >= $2::timestamptz AND m.bucket < $3::timestamptz
    AND NOT (
      date_trunc('hour', m.bucket, 'UTC') >= $2::timestamptz
      AND date_trunc('hour', m.bucket, 'UTC') + interval '1 hour' <= $3::timestamptz
      AND date_trunc('hour', m.bucket, 'UTC') NOT IN (SELECT bucket FROM dirty)
    )
)
SELECT e.key, sum(e.value::bigint)::float8 AS count
FROM src, jsonb_each_text(src.sketch) AS e
GROUP BY e.key
