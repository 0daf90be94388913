-- Compacted metric-level rows (quantiles included) into the connection's staging table.
COPY metric_rollup_stage (metric_id, width, bucket, count, sum, min, max, last, last_ts, series, sketch,
                          q50, q90, q95, q99)
FROM STDIN (FORMAT binary)
