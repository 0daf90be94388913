-- Rebuilds rollup_1h for the given hours from rollup_1m: sums, extremes, the latest value and
-- the merged sketch (counts added per bucket key). Replaces what was there.
-- Params: $1 hours (timestamptz[], each the start of a UTC hour)
WITH hours AS (
  SELECT unnest($1::timestamptz[]) AS hour
), m AS (
  SELECT r.*, hours.hour
  FROM hours
  JOIN rollup_1m r ON r.bucket >= hours.hour AND r.bucket < hours.hour + interval '1 hour'
), agg AS (
  SELECT series_id, hour, sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min,
         max(max) AS max, (array_agg(last ORDER BY last_ts DESC))[1] AS last, max(last_ts) AS last_ts
  FROM m
  GROUP BY series_id, hour
), sk AS (
  SELECT series_id, hour, jsonb_object_agg(key, total) AS sketch
  FROM (
    SELECT m.series_id, m.hour, e.key, sum(e.value::bigint) AS total
    FROM m, jsonb_each_text(m.sketch) AS e
    GROUP BY 1, 2, 3
  ) per_key
  GROUP BY series_id, hour
)
INSERT INTO rollup_1h AS r (series_id, bucket, count, sum, min, max, last, last_ts, sketch)
SELECT agg.series_id, agg.hour, agg.count, agg.sum, agg.min, agg.max, agg.last, agg.last_ts, sk.sketch
FROM agg JOIN sk USING (series_id, hour)
ORDER BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET
  count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
  last = EXCLUDED.last, last_ts = EXCLUDED.last_ts, sketch = EXCLUDED.sketch
