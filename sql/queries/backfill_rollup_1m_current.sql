-- The rollup_1m of one hour (optionally of one metric), partial rows merged per series and
-- minute, to compare in a dry run.
-- Params: $1 hour start (timestamptz), $2 metric name (text, null for all)
WITH m AS (
  SELECT * FROM rollup_1m
  WHERE bucket >= $1::timestamptz AND bucket < $1::timestamptz + interval '1 hour'
    AND ($2::text IS NULL OR series_id IN (SELECT id FROM series WHERE metric_name = $2::text))
), agg AS (
  SELECT series_id, bucket, sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
         (array_agg(last ORDER BY last_ts DESC))[1] AS last
  FROM m GROUP BY series_id, bucket
), sk AS (
  SELECT series_id, bucket, jsonb_object_agg(key, total) AS sketch
  FROM (SELECT m.series_id, m.bucket, e.key, sum(e.value::bigint) AS total
        FROM m, jsonb_each_text(m.sketch) AS e GROUP BY 1, 2, 3) per_key
  GROUP BY series_id, bucket
)
SELECT agg.series_id, (extract(epoch FROM agg.bucket) * 1000)::float8 AS bucket_ms, agg.count, agg.sum,
       agg.min, agg.max, agg.last, coalesce(sk.sketch, '{}'::jsonb) AS sketch
FROM agg LEFT JOIN sk USING (series_id, bucket)
