-- Drops points partitions entirely older than the cutoff; returns their names.
-- Params: $1 cutoff (timestamptz)
SELECT pulse_drop_points_partitions($1::timestamptz) AS dropped
