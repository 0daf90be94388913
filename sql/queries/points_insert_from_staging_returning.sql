-- As points_insert_from_staging, returning the rows really inserted, so the rollups count
-- exactly those and a re-delivered point changes nothing.
INSERT INTO points (series_id, ts, value)
SELECT series_id, ts, value FROM points_staging
ON CONFLICT (series_id, ts) DO NOTHING
RETURNING series_id, (extract(epoch FROM ts) * 1000)::float8 AS ts_ms, value
