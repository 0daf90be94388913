-- Opens a regression for a metric (series null) or a series, or keeps the open one going:
-- same id and first_seen, a new last_seen and the latest severity. Returns the regression.
-- Params: $1 metric name (text), $2 series id (bigint or null), $3 severity, $4 direction (text),
--         $5 seen at (timestamptz)
INSERT INTO regressions AS r (metric_name, series_id, severity, direction, first_seen, last_seen)
VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::timestamptz, $5::timestamptz)
ON CONFLICT (metric_name, coalesce(series_id, 0)) WHERE closed_at IS NULL
DO UPDATE SET last_seen = EXCLUDED.last_seen, severity = EXCLUDED.severity, direction = EXCLUDED.direction
RETURNING id, first_seen, last_seen
