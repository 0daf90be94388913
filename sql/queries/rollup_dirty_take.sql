-- Takes (unmarks) the given dirty hours; returns those still marked. Run after the hours'
-- exclusive locks are held, so no flush writing them is still uncommitted.
-- Params: $1 hours (timestamptz[])
DELETE FROM rollup_dirty_hours
WHERE bucket = ANY($1::timestamptz[])
RETURNING bucket
