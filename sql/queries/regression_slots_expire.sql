-- Deletes regression slots older than the cutoff, at most $2 rows at a time (short transactions).
-- Params: $1 cutoff (timestamptz), $2 limit (int)
DELETE FROM regression_slots
WHERE ctid IN (SELECT ctid FROM regression_slots WHERE hour < $1::timestamptz LIMIT $2)
