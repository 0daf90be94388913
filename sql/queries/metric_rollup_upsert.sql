-- Writes whole metric_rollup rows (merged by the caller, which holds the compaction lock, so
-- nothing else writes metric_rollup meanwhile): new keys are inserted, existing ones replaced.
-- Params: $1 metric ids (int[]), $2 widths (int[], seconds), $3 buckets (timestamptz[]),
--         $4 counts (bigint[]), $5 sums, $6 mins, $7 maxes, $8 last values (float8[]),
--         $9 last times (timestamptz[]), $10 series bitmaps (bytea[]), $11 sketches (bytea[]),
--         $12–$15 the sketch's p50, p90, p95, p99 (float8[])
INSERT INTO metric_rollup AS r (metric_id, width, bucket, count, sum, min, max, last, last_ts, series, sketch,
                                q50, q90, q95, q99)
SELECT *
FROM unnest($1::int[], $2::int[], $3::timestamptz[], $4::bigint[], $5::float8[], $6::float8[],
            $7::float8[], $8::float8[], $9::timestamptz[], $10::bytea[], $11::bytea[],
            $12::float8[], $13::float8[], $14::float8[], $15::float8[])
ORDER BY 1, 2, 3
ON CONFLICT (metric_id, width, bucket) DO UPDATE SET
  count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
  last = EXCLUDED.last, last_ts = EXCLUDED.last_ts, series = EXCLUDED.series, sketch = EXCLUDED.sketch,
  q50 = EXCLUDED.q50, q90 = EXCLUDED.q90, q95 = EXCLUDED.q95, q99 = EXCLUDED.q99
