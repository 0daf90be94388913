-- Removes up to $1 partial rows and returns them, for the compaction step to merge into
-- metric_rollup in the same transaction. Rows committed after this statement began stay.
-- Params: $1 limit (int)
DELETE FROM metric_rollup_partial
WHERE ctid IN (SELECT ctid FROM metric_rollup_partial LIMIT $1)
RETURNING metric_id, width, (extract(epoch FROM bucket) * 1000)::float8 AS bucket_ms,
          count::float8 AS count, sum, min, max, last,
          (extract(epoch FROM last_ts) * 1000)::float8 AS last_ms, series, sketch
