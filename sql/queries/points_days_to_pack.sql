-- The UTC days with unpacked points (or an empty partition) whose whole day ends at or before
-- the cutoff, oldest first. Params: $1 cutoff (timestamptz)
SELECT to_char(d, 'YYYY-MM-DD') AS day FROM pulse_points_days_to_pack($1::timestamptz) AS d
