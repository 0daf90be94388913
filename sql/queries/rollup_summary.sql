-- Per metric over [$1, $2): count, sum, min, max, latest value and merged sketch. Whole hours
-- come from rollup_1h unless dirty; the rest (edges, dirty or open hours) from rollup_1m.
-- Params: $1 from (timestamptz, minute-aligned), $2 to (timestamptz, minute-aligned)
WITH dirty AS (
  SELECT bucket FROM rollup_dirty_hours
), src AS (
  SELECT h.series_id, h.bucket, h.count, h.sum, h.min, h.max, h.last, h.last_ts, h.sketch
  FROM rollup_1h h
  WHERE h.bucket >= $1::timestamptz AND h.bucket + interval '1 hour' <= $2::timestamptz
    AND h.bucket NOT IN (SELECT bucket FROM dirty)
  UNION ALL
  SELECT m.series_id, m.bucket, m.count, m.sum, m.min, m.max, m.last, m.last_ts, m.sketch
  FROM rollup_1m m
  WHERE m.bucket >= $1::timestamptz AND m.bucket < $2::timestamptz
    AND NOT (
      date_trunc('hour', m.bucket, 'UTC') >= $1::timestamptz
      AND date_trunc('hour', m.bucket, 'UTC') + interval '1 hour' <= $2::timestamptz
      AND date_trunc('hour', m.bucket, 'UTC') NOT IN (SELECT bucket FROM dirty)
    )
), named AS (
  SELECT s.metric_name, src.* FROM src JOIN series s ON s.id = src.series_id
), agg AS (
  SELECT metric_name, sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
         (array_agg(last ORDER BY last_ts DESC))[1] AS last, max(last_ts) AS last_ts,
         count(DISTINCT series_id)::int AS series
  FROM named
  GROUP BY metric_name
), sk AS (
  SELECT metric_name, jsonb_object_agg(key, total) AS sketch
  FROM (
    SELECT named.metric_name, e.key, sum(e.value::bigint) AS total
    FROM named, jsonb_each_text(named.sketch) AS e
    GROUP BY 1, 2
  ) per_key
  GROUP BY metric_name
)
SELECT agg.*, sk.sketch
FROM agg JOIN sk USING (metric_name)
ORDER BY metric_name
