-- Stores the staged rows that are not stored yet; duplicates (re-delivered or repeated
-- within the batch) are skipped. The row count is what was really inserted.
INSERT INTO points (series_id, ts, value)
SELECT series_id, ts, value FROM points_staging
ON CONFLICT (series_id, ts) DO NOTHING
