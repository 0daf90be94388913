-- Closed days of raw points, packed. A packed row holds one timestamp: the values of every
-- series that has a point at that instant, in the order of a shared series set. Points taken
-- together (a sample job's metrics, a scrape's samples, a fleet on the same tick) share their
-- timestamp, so a day of 1,000 series at one point a minute is 1,440 rows instead of
-- 1,440,000, about 8 bytes a point instead of about 80.
--
-- Why timestamp-major and not one row per series and hour: the timestamp stays a plain
-- column, so a time range (WHERE ts >= now() - interval '24 hours', through points_all or the
-- plan's view) prunes packed partitions and rows exactly as it prunes raw ones; a timestamp
-- computed from an offset inside a row cannot be pruned by PostgreSQL's planner without an
-- extension. The price: a query for one series on packed days reads every series of those
-- timestamps (pulse's own readers use the rollups for that).

-- What the plan's view shows of a series, kept with each series set (a series row never
-- changes), so the view unpacks it with the values instead of joining series once per point.
CREATE TYPE pulse_series_columns AS (
  metric_name     text,
  tags            jsonb,
  source_agent_id text,
  instance_id     text
);

-- The series of packed rows, in the order of their values (ascending ids). Few distinct sets
-- exist (the fleets that report together), each stored once.
CREATE TABLE point_sets (
  id         integer                 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- md5 of the id list, to find a set by its members; equality is checked on the list itself.
  digest     uuid                    NOT NULL UNIQUE,
  series_ids bigint[]                NOT NULL CHECK (cardinality(series_ids) > 0),
  -- The same series' columns, in the same order.
  columns    pulse_series_columns[]  NOT NULL
    CHECK (cardinality(columns) = cardinality(series_ids))
);

-- One row per (ts, set_id), kept so by pulse_pack_points_day, the only writer. No b-tree: its
-- 28 bytes a row would cost a few bytes a point when few points share a timestamp; rows are
-- written in time order, so a BRIN index finds a time range (or one timestamp, for a flush's
-- check) in a few pages.
CREATE TABLE points_packed (
  ts     timestamptz        NOT NULL,
  set_id integer            NOT NULL,
  vals   double precision[] NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX points_packed_ts_idx ON points_packed USING brin (ts) WITH (pages_per_range = 16);
-- One partition per packed day (points_packed_YYYYMMDD), made by pulse_pack_points_day and
-- dropped by retention with the day; no default partition: nothing else writes here.

-- The days packed, with what packing them found. A flush checks this table (under its hour
-- locks) to know whether a point's day is packed.
CREATE TABLE points_packed_days (
  day          date        PRIMARY KEY,
  points       bigint      NOT NULL,
  packed_rows  integer     NOT NULL,
  raw_bytes    bigint      NOT NULL,
  packed_at    timestamptz NOT NULL DEFAULT now()
);

-- A set's arrays, read once per query. A set of many series is stored compressed out of line
-- (TOAST); joined as it is, each packed row would decompress it again. The concatenation makes
-- a plain in-memory copy, and OFFSET 0 keeps the planner from moving it above the join.
CREATE VIEW point_sets_read AS
SELECT k.id, k.series_ids || '{}'::bigint[] AS series_ids,
       k.columns || '{}'::pulse_series_columns[] AS columns
FROM point_sets k
OFFSET 0;

-- Every raw point, packed or not: what every reader of raw points reads.
CREATE VIEW points_all AS
SELECT series_id, ts, value FROM points
UNION ALL
SELECT unnest(s.series_ids) AS series_id, p.ts, unnest(p.vals) AS value
FROM points_packed p
JOIN point_sets_read s ON s.id = p.set_id;

-- The plan's view over raw and packed points. The packed half unpacks a row's values with its
-- set's series columns, two arrays in step, and reads a column of a series only when a query
-- asks for it: a 24 h scan of packed days costs less than one of raw days (bench:storage).
CREATE OR REPLACE VIEW performance_metrics_ts AS
SELECT p.ts            AS "timestamp",
       s.metric_name,
       p.value         AS metric_value,
       s.tags,
       s.source_agent_id,
       s.instance_id
FROM points p
JOIN series s ON s.id = p.series_id
UNION ALL
SELECT x.ts, (x.c).metric_name, x.value, (x.c).tags, (x.c).source_agent_id, (x.c).instance_id
FROM (
  SELECT p.ts, unnest(k.columns) AS c, unnest(p.vals) AS value
  FROM points_packed p
  JOIN point_sets_read k ON k.id = p.set_id
) x;

-- Packs the unpacked points of one UTC day: its partition (points_YYYYMMDD) if there is one,
-- and what points_default holds for the day (late points after an earlier packing, or a day
-- that never had a partition). Timestamps already packed that get new points are merged, so
-- each timestamp keeps one row per set. The unpacked rows are gone at commit (the partition
-- dropped), so a reader never sees a point twice or not at all.
-- Callers hold the day's hours exclusively (flushes hold them shared), so no flush writes the
-- day while it is packed, and a flush after it sees the day in points_packed_days.
-- Returns the points it packed (new to packed storage), the packed rows it wrote and the bytes
-- of the partition it dropped.
CREATE FUNCTION pulse_pack_points_day(day date)
RETURNS TABLE (points bigint, packed_rows integer, raw_bytes bigint)
LANGUAGE plpgsql AS $$
DECLARE
  lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
  hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
  part text := format('points_%s', to_char(day, 'YYYYMMDD'));
  packed text := format('points_packed_%s', to_char(day, 'YYYYMMDD'));
  n_points bigint;
  n_old bigint;
  n_rows integer;
  n_stored integer;
  bytes bigint := 0;
BEGIN
  -- Serialises with partition creation and retention; released at commit.
  PERFORM pg_advisory_xact_lock(hashtext('pulse:points-partitions'));
  IF to_regclass(part) IS NOT NULL THEN
    bytes := pg_total_relation_size(part);
  END IF;

  CREATE TEMP TABLE IF NOT EXISTS pulse_pack (
    ts timestamptz, ids bigint[], vals double precision[], digest uuid
  ) ON COMMIT DROP;
  TRUNCATE pulse_pack;
  INSERT INTO pulse_pack (ts, ids, vals, digest)
  WITH merged AS MATERIALIZED (
    -- Packed points at the timestamps that got new points: merged with them.
    SELECT unnest(s.series_ids) AS series_id, p.ts, unnest(p.vals) AS value
    FROM points_packed p
    JOIN point_sets s ON s.id = p.set_id
    WHERE p.ts >= lo AND p.ts < hi
      AND p.ts IN (SELECT u.ts FROM points u WHERE u.ts >= lo AND u.ts < hi)
  )
  SELECT g.ts, g.ids, g.vals, md5(g.ids::text)::uuid
  FROM (
    SELECT x.ts, array_agg(x.series_id ORDER BY x.series_id) AS ids,
           array_agg(x.value ORDER BY x.series_id) AS vals
    FROM (
      -- A flush never stores a point a packed row holds; should one be there all the same,
      -- the packed one is kept, as the primary key keeps the first of two raw rows.
      SELECT u.series_id, u.ts, u.value FROM points u
      WHERE u.ts >= lo AND u.ts < hi
        AND NOT EXISTS (SELECT 1 FROM merged m WHERE m.series_id = u.series_id AND m.ts = u.ts)
      UNION ALL
      SELECT m.series_id, m.ts, m.value FROM merged m
    ) x
    GROUP BY x.ts
  ) g;
  SELECT count(*), coalesce(sum(cardinality(pp.ids)), 0) INTO n_rows, n_points FROM pulse_pack pp;

  INSERT INTO point_sets (digest, series_ids, columns)
  SELECT d.digest, d.ids,
         array_agg(ROW(s.metric_name, s.tags, s.source_agent_id, s.instance_id)::pulse_series_columns
                   ORDER BY u.i)
  FROM (SELECT DISTINCT ON (pp.digest) pp.digest, pp.ids FROM pulse_pack pp) d
  CROSS JOIN LATERAL unnest(d.ids) WITH ORDINALITY AS u (series_id, i)
  LEFT JOIN series s ON s.id = u.series_id
  WHERE NOT EXISTS (SELECT 1 FROM point_sets k WHERE k.digest = d.digest)
  GROUP BY d.digest, d.ids
  ON CONFLICT (digest) DO NOTHING;

  IF to_regclass(packed) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF points_packed FOR VALUES FROM (%L) TO (%L)',
      packed, lo, hi);
  END IF;
  SELECT coalesce(sum(cardinality(s.series_ids)), 0) INTO n_old
  FROM points_packed p
  JOIN point_sets s ON s.id = p.set_id
  WHERE p.ts >= lo AND p.ts < hi AND p.ts IN (SELECT pp.ts FROM pulse_pack pp);
  DELETE FROM points_packed p WHERE p.ts >= lo AND p.ts < hi AND p.ts IN (SELECT pp.ts FROM pulse_pack pp);
  INSERT INTO points_packed (ts, set_id, vals)
  SELECT pp.ts, s.id, pp.vals
  FROM pulse_pack pp
  JOIN point_sets s ON s.digest = pp.digest AND s.series_ids = pp.ids
  ORDER BY pp.ts;
  GET DIAGNOSTICS n_stored = ROW_COUNT;
  -- The new rows' BRIN ranges summarised, and the planner's statistics of the day made, now
  -- rather than by a later autovacuum.
  PERFORM brin_summarize_new_values(i.indexrelid)
  FROM pg_index i WHERE i.indrelid = packed::regclass;
  EXECUTE format('ANALYZE %I', packed);
  IF n_stored <> n_rows THEN
    -- Only an md5 collision between two different series lists gets here; nothing is lost.
    RAISE EXCEPTION 'packing % stored % of % rows: a series set did not match its digest', day, n_stored, n_rows;
  END IF;

  IF to_regclass(part) IS NOT NULL THEN
    EXECUTE format('DROP TABLE %I', part);
  END IF;
  DELETE FROM points_default d WHERE d.ts >= lo AND d.ts < hi;

  INSERT INTO points_packed_days AS k (day, points, packed_rows, raw_bytes)
  SELECT day, coalesce(sum(cardinality(s.series_ids)), 0), count(*), bytes
  FROM points_packed p
  JOIN point_sets s ON s.id = p.set_id
  WHERE p.ts >= lo AND p.ts < hi
  ON CONFLICT ON CONSTRAINT points_packed_days_pkey DO UPDATE
    SET points = EXCLUDED.points,
        packed_rows = EXCLUDED.packed_rows,
        raw_bytes = k.raw_bytes + EXCLUDED.raw_bytes,
        packed_at = now();
  RETURN QUERY SELECT n_points - n_old, n_rows, bytes;
END
$$;

-- The UTC days with unpacked points whose whole day ends at or before the cutoff: day
-- partitions (empty ones too, made ahead and never written) and days points_default holds.
CREATE FUNCTION pulse_points_days_to_pack(cutoff timestamptz)
RETURNS SETOF date
LANGUAGE sql STABLE AS $$
  SELECT to_date(substr(c.relname, 8), 'YYYYMMDD')
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'points'::regclass
    AND c.relname ~ '^points_[0-9]{8}$'
    AND (to_date(substr(c.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff
  UNION
  SELECT DISTINCT (d.ts AT TIME ZONE 'UTC')::date
  FROM points_default d
  WHERE d.ts < date_trunc('day', cutoff AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
  ORDER BY 1
$$;

-- Retention, now for packed days too: their partitions and registry rows go with the raw
-- ones, and series sets no packed row uses any more are deleted.
CREATE OR REPLACE FUNCTION pulse_drop_points_partitions(cutoff timestamptz)
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
    WHERE i.inhparent IN ('points'::regclass, 'points_packed'::regclass)
      AND c.relname ~ '^points_(packed_)?[0-9]{8}$'
      AND (to_date(right(c.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff
    ORDER BY right(c.relname, 8), c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', part);
    RETURN NEXT part;
  END LOOP;
  DELETE FROM points_default WHERE ts < cutoff;
  DELETE FROM points_packed_days k
  WHERE (k.day + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff;
  DELETE FROM point_sets s
  WHERE NOT EXISTS (SELECT 1 FROM points_packed p WHERE p.set_id = s.id);
END
$$;
