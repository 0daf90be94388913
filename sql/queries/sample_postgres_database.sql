-- Counters of this database since statistics were last reset, and its size.
SELECT xact_commit::float8   AS xact_commit,
       xact_rollback::float8 AS xact_rollback,
       blks_hit::float8      AS blks_hit,
       blks_read::float8     AS blks_read,
       deadlocks::float8     AS deadlocks,
       pg_database_size(current_database())::float8 AS size_bytes
FROM pg_stat_database
WHERE datname = current_database()
