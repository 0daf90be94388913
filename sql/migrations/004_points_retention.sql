-- Drops the daily partitions of points (points_YYYYMMDD) whose whole day ends at or before the
-- cutoff, and returns their names. Rows the default partition holds that old are deleted.
CREATE FUNCTION pulse_drop_points_partitions(cutoff timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  part text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('pulse:points-partitions'));
  FOR part IN
    SELECT c.relname
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'points'::regclass
      AND c.relname ~ '^points_[0-9]{8}$'
      AND (to_date(substr(c.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff
    ORDER BY c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', part);
    RETURN NEXT part;
  END LOOP;
  DELETE FROM points_default WHERE ts < cutoff;
END
$$;
