-- Deletes rollup_1m rows older than the cutoff, at most $2 at a time (short transactions).
-- Params: $1 cutoff (timestamptz), $2 limit (int)
DELETE FROM rollup_1m
WHERE ctid IN (SELECT ctid FROM rollup_1m WHERE bucket < $1::timestamptz LIMIT $2)
