-- Connections of this database by state, and the server's connection limit.
SELECT count(*) FILTER (WHERE state = 'active')::int                        AS active,
       count(*) FILTER (WHERE state = 'idle')::int                          AS idle,
       count(*) FILTER (WHERE state LIKE 'idle in transaction%')::int       AS idle_in_transaction,
       count(*)::int                                                        AS total,
       current_setting('max_connections')::int                              AS max_connections
FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend'
