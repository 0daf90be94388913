-- Folds one flush's per-minute aggregates into rollup_1m, in the flush's transaction. Rows go
-- in key order so concurrent flushes lock in the same order and cannot deadlock.
-- Params: $1 series ids (bigint[]), $2 buckets (timestamptz[]), $3 counts (bigint[]),
--         $4 sums, $5 mins, $6 maxes, $7 last values (float8[]), $8 last times (timestamptz[]),
--         $9 sketches (jsonb[])
INSERT INTO rollup_1m AS r (series_id, bucket, count, sum, min, max, last, last_ts, sketch)
SELECT *
FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::float8[], $5::float8[],
            $6::float8[], $7::float8[], $8::timestamptz[], $9::jsonb[])
ORDER BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET
  count   = r.count + EXCLUDED.count,
  sum     = r.sum + EXCLUDED.sum,
  min     = least(r.min, EXCLUDED.min),
  max     = greatest(r.max, EXCLUDED.max),
  last    = CASE WHEN EXCLUDED.last_ts >= r.last_ts THEN EXCLUDED.last ELSE r.last END,
  last_ts = greatest(r.last_ts, EXCLUDED.last_ts),
  sketch  = pulse_sketch_merge(r.sketch, EXCLUDED.sketch)
