-- Removes the rollup_1h rows of the given series and hours, before rollup_1h_copy.sql writes
-- them again (as rollup_1h_build.sql replaces them).
-- Params: $1 series ids (bigint[]), $2 hours (timestamptz[]), one key per position
DELETE FROM rollup_1h r
USING unnest($1::bigint[], $2::timestamptz[]) AS k(series_id, bucket)
WHERE r.series_id = k.series_id AND r.bucket = k.bucket
