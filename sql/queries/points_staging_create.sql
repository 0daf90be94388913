-- Per-connection staging table for a batch that met a duplicate; emptied at each commit.
CREATE TEMP TABLE IF NOT EXISTS points_staging (LIKE points) ON COMMIT DELETE ROWS
