-- Creates the missing daily partitions of points between two days (inclusive).
-- Params: $1 first day (date), $2 last day (date)
SELECT pulse_ensure_points_partitions($1::date, $2::date) AS created
