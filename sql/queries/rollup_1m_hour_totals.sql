-- How many rows and points rollup_1m holds in each of the given hours: a writer of history
-- compares them with what its own writes appended (hour-rollups.ts), to find the hours made of
-- its rows alone.
-- Params: $1 hours (timestamptz[], each the start of a UTC hour)
SELECT (extract(epoch FROM h.hour) * 1000)::float8 AS hour_ms,
       count(r.series_id)::float8 AS rows, coalesce(sum(r.count), 0)::float8 AS points
FROM unnest($1::timestamptz[]) AS h(hour)
LEFT JOIN rollup_1m r ON r.bucket >= h.hour AND r.bucket < h.hour + interval '1 hour'
GROUP BY h.hour
