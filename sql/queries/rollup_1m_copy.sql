-- Adds one write's per-minute aggregates to rollup_1m by binary COPY, in the write's transaction:
-- the rows of rollup_1m_append.sql without parsing nine arrays of text (see rollup.ts
-- minuteRollupCopy for the columns' encoding).
COPY rollup_1m (series_id, bucket, count, sum, min, max, last, last_ts, sketch) FROM STDIN (FORMAT binary)
