-- Every hour that has per-series rollups, oldest first (the hours metric rollups are built
-- for when an installation upgrades).
SELECT DISTINCT (extract(epoch FROM h) * 1000)::float8 AS hour_ms
FROM (
  SELECT DISTINCT date_trunc('hour', bucket, 'UTC') AS h FROM rollup_1m
  UNION
  SELECT bucket FROM rollup_1h
) hours
ORDER BY 1
