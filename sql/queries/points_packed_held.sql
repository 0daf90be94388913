-- Of the given points, those a packed row already holds: a flush skips them, as the primary
-- key makes it skip a stored raw row. Reads only the packed rows at the points' timestamps.
-- Params: $1 series ids (bigint[]), $2 timestamps in ms since the epoch (float8[])
WITH x AS MATERIALIZED (
  SELECT x.series_id, x.ts_ms, to_timestamp(x.ts_ms / 1000) AS ts
  FROM unnest($1::bigint[], $2::float8[]) AS x (series_id, ts_ms)
),
held AS (
  SELECT unnest(s.series_ids) AS series_id, p.ts
  FROM points_packed p
  JOIN point_sets s ON s.id = p.set_id
  WHERE p.ts IN (SELECT DISTINCT x.ts FROM x)
)
SELECT DISTINCT x.series_id, x.ts_ms
FROM x
JOIN held h ON h.series_id = x.series_id AND h.ts = x.ts
