-- Up to $2 dirty hours that have closed (ended before $1), oldest first.
-- Params: $1 now (timestamptz), $2 limit (int)
SELECT bucket FROM rollup_dirty_hours
WHERE bucket + interval '1 hour' <= $1::timestamptz
ORDER BY bucket
LIMIT $2
