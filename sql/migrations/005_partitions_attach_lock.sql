-- Moving a day's rows out of points_default and attaching the new partition raced with a flush
-- committing a row for that day into points_default in between (ATTACH then fails: "partition
-- constraint violated"). The function now locks points_default against writes while it works.

CREATE OR REPLACE FUNCTION pulse_ensure_points_partitions(from_day date, to_day date)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  d date := from_day;
  part text;
  created integer := 0;
BEGIN
  -- Serialises callers; released when the calling transaction ends.
  PERFORM pg_advisory_xact_lock(hashtext('pulse:points-partitions'));
  WHILE d <= to_day LOOP
    part := format('points_%s', to_char(d, 'YYYYMMDD'));
    IF to_regclass(part) IS NULL THEN
      -- Readers go on; writers to the default partition wait for this transaction.
      LOCK TABLE points_default IN SHARE ROW EXCLUSIVE MODE;
      EXECUTE format('CREATE TABLE %I (LIKE points INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
      EXECUTE format(
        'WITH moved AS (DELETE FROM points_default WHERE ts >= %L::timestamptz AND ts < %L::timestamptz RETURNING series_id, ts, value)
         INSERT INTO %I (series_id, ts, value) SELECT series_id, ts, value FROM moved',
        d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC', part);
      EXECUTE format('ALTER TABLE points ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
        part, d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
      created := created + 1;
    END IF;
    d := d + 1;
  END LOOP;
  RETURN created;
END
$$;
