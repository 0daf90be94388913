-- A flush holds these shared locks on the hours it writes, so a backfill or the aggregate job
-- (exclusive locks: rollup_hour_lock.sql, rollup_hours_lock.sql) never sees half of a flush.
-- Params: $1 hour numbers since the epoch (int[]), in ascending order
SELECT count(pg_advisory_xact_lock_shared(1886221427, h)) AS locked
FROM unnest($1::int[]) AS h
