-- Takes up to $2 dirty hours that have closed (ended before $1), oldest first. SKIP LOCKED lets
-- several aggregate jobs share the work; the rows reappear if the transaction rolls back.
-- Params: $1 now (timestamptz), $2 limit (int)
DELETE FROM rollup_dirty_hours
WHERE bucket IN (
  SELECT bucket FROM rollup_dirty_hours
  WHERE bucket + interval '1 hour' <= $1::timestamptz
  ORDER BY bucket
  LIMIT $2
  FOR UPDATE SKIP LOCKED
)
RETURNING bucket
