-- A flush's metric-level rows (every width) into metric_rollup_partial, in the flush's
-- transaction. The compaction step later merges them into metric_rollup.
COPY metric_rollup_partial (metric_id, width, bucket, count, sum, min, max, last, last_ts, series, sketch)
FROM STDIN (FORMAT binary)
