-- One metric over [$2, $3) in buckets of $4 seconds: count, sum, min, max and merged sketch per
-- bucket. $5 false reads rollup_1m only (resolutions under an hour); true mixes in rollup_1h
-- for whole, clean hours. Optional filters: $6 source_agent_id, $7 instance_id, $8 tags
-- (jsonb containment); null means no filter.
-- Params: $1 metric (text), $2 from, $3 to (timestamptz, minute-aligned), $4 resolution (int
--         seconds), $5 use rollup_1h (bool), $6 agent (text), $7 instance (text), $8 tags (jsonb)
WITH chosen AS (
  SELECT id FROM series
  WHERE metric_name = $1::text
    AND ($6::text IS NULL OR source_agent_id = $6::text)
    AND ($7::text IS NULL OR instance_id = $7::text)
    AND ($8::jsonb IS NULL OR tags @> $8::jsonb)
), dirty AS (
  SELECT bucket FROM rollup_dirty_hours
), src AS (
  SELECT h.bucket, h.count, h.sum, h.min, h.max, h.sketch
  FROM rollup_1h h
  WHERE $5::boolean AND h.series_id IN (SELECT id FROM chosen)
    AND h.bucket >= $2::timestamptz AND h.bucket + interval '1 hour' <= $3::timestamptz
    AND h.bucket NOT IN (SELECT bucket FROM dirty)
  UNION ALL
  SELECT m.bucket, m.count, m.sum, m.min, m.max, m.sketch
  FROM rollup_1m m
  WHERE m.series_id IN (SELECT id FROM chosen)
    AND m.bucket >= $2::timestamptz AND m.bucket < $3::timestamptz
    AND NOT (
      $5::boolean
      AND date_trunc('hour', m.bucket, 'UTC') >= $2::timestamptz
      AND date_trunc('hour', m.bucket, 'UTC') + interval '1 hour' <= $3::timestamptz
      AND date_trunc('hour', m.bucket, 'UTC') NOT IN (SELECT bucket FROM dirty)
    )
), bucketed AS (
  SELECT to_timestamp(floor(extract(epoch FROM bucket) / $4::int) * $4::int) AS t, src.*
  FROM src
), agg AS (
  SELECT t, sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max
  FROM bucketed GROUP BY t
), sk AS (
  SELECT t, jsonb_object_agg(key, total) AS sketch
  FROM (
    SELECT bucketed.t, e.key, sum(e.value::bigint) AS total
    FROM bucketed, jsonb_each_text(bucketed.sketch) AS e
    GROUP BY 1, 2
  ) per_key
  GROUP BY t
)
SELECT agg.*, sk.sketch FROM agg JOIN sk USING (t) ORDER BY t
