-- Inserts the series that do not exist yet, each with its metric's next ordinal (see
-- pulse_insert_series in sql/migrations/008_metric_rollups.sql).
-- Params: $1 fingerprints (uuid[]), $2 metric names (text[]), $3 source agent ids (text[]),
--         $4 instance ids (text[]), $5 tags (jsonb[])
SELECT pulse_insert_series($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
