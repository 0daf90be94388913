-- Adds one flush's per-minute aggregates to rollup_1m, in the flush's transaction. Rows are
-- partial: a minute that several flushes wrote has several rows, which readers merge.
-- Params: $1 series ids (bigint[]), $2 buckets (timestamptz[]), $3 counts (bigint[]),
--         $4 sums, $5 mins, $6 maxes, $7 last values (float8[]), $8 last times (timestamptz[]),
--         $9 sketches (jsonb[])
INSERT INTO rollup_1m (series_id, bucket, count, sum, min, max, last, last_ts, sketch)
SELECT *
FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::float8[], $5::float8[],
            $6::float8[], $7::float8[], $8::timestamptz[], $9::jsonb[])
