-- Deletes metric rows of the given widths older than the cutoff, at most $3 at a time, from
-- both tables.
-- Params: $1 widths (int[]), $2 cutoff (timestamptz), $3 limit (int)
WITH compacted AS (
  DELETE FROM metric_rollup
  WHERE ctid IN (SELECT ctid FROM metric_rollup WHERE width = ANY($1::int[]) AND bucket < $2::timestamptz LIMIT $3)
  RETURNING 1
), partial AS (
  DELETE FROM metric_rollup_partial
  WHERE ctid IN (SELECT ctid FROM metric_rollup_partial WHERE width = ANY($1::int[]) AND bucket < $2::timestamptz LIMIT $3)
  RETURNING 1
)
SELECT (SELECT count(*) FROM compacted)::int + (SELECT count(*) FROM partial)::int AS deleted
