-- Exclusive locks on several hours (see rollup_hours_lock_shared.sql), in ascending order.
-- Params: $1 hour numbers since the epoch (int[]), ascending
SELECT count(pg_advisory_xact_lock(1886221427, h)) AS locked
FROM unnest($1::int[]) AS h
