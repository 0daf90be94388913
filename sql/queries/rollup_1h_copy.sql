-- rollup_1h rows a writer of history computed from its own minutes (hour-rollups.ts), by binary
-- COPY, after rollup_1h_delete_keys.sql removed the rows they replace.
COPY rollup_1h (series_id, bucket, count, sum, min, max, last, last_ts, sketch) FROM STDIN (FORMAT binary)
