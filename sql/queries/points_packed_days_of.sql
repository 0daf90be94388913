-- Which of the given UTC days are packed. Params: $1 days (date[])
SELECT (extract(epoch FROM day::timestamp) * 1000)::float8 AS day_ms
FROM points_packed_days
WHERE day = ANY ($1::date[])
