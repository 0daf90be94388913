-- The compaction lock: whoever rewrites metric_rollup rows (compaction, rebuilds) holds it
-- until its transaction ends. $1 true waits for it; false only tries.
-- Params: $1 wait (bool)
SELECT CASE WHEN $1::boolean THEN pg_advisory_xact_lock(1886221428) IS NULL
            ELSE pg_try_advisory_xact_lock(1886221428) END AS locked
