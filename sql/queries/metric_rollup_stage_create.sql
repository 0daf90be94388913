-- Per-connection staging table for compacted metric-level rows, filled by binary COPY and
-- emptied at each commit: 10,000 rows go through it in ~0.1 s, against ~0.8 s as the 15 text
-- arrays of metric_rollup_upsert.sql (PostgreSQL parsing the array literals).
CREATE TEMP TABLE IF NOT EXISTS metric_rollup_stage (LIKE metric_rollup) ON COMMIT DELETE ROWS
