-- Exclusive lock on one hour for a backfill (see rollup_hours_lock_shared.sql).
-- Params: $1 hour number since the epoch (int)
SELECT pg_advisory_xact_lock(1886221427, $1::int) IS NULL AS locked
