-- The id of a metric, if it has any series.
-- Params: $1 metric name (text)
SELECT id FROM metrics WHERE name = $1::text
