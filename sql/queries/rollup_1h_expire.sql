-- Deletes rollup_1h rows older than the cutoff, at most $2 at a time (short transactions).
-- Params: $1 cutoff (timestamptz), $2 limit (int)
DELETE FROM rollup_1h
WHERE ctid IN (SELECT ctid FROM rollup_1h WHERE bucket < $1::timestamptz LIMIT $2)
