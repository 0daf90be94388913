-- Params: $1 metric name (text)
SELECT EXISTS (SELECT 1 FROM series WHERE metric_name = $1::text) AS found
