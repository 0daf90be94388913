-- Series and raw points. A point belongs to one series; a series is unique on a
-- fingerprint of (metric_name, source_agent_id, instance_id, tags) computed by pulse.

CREATE TABLE series (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  fingerprint     uuid        NOT NULL UNIQUE,
  metric_name     text        NOT NULL CHECK (char_length(metric_name) BETWEEN 1 AND 100),
  source_agent_id text,
  instance_id     text,
  tags            jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX series_metric_name_idx ON series (metric_name);

-- No foreign key to series: a per-row FK check would halve COPY speed, and series
-- rows are never deleted. The primary key is what keeps a point from being stored twice.
CREATE TABLE points (
  series_id bigint           NOT NULL,
  ts        timestamptz      NOT NULL,
  value     double precision NOT NULL,
  PRIMARY KEY (series_id, ts)
) PARTITION BY RANGE (ts);

-- Catches points for days that have no partition yet, so an insert never fails
-- for want of one; pulse_ensure_points_partitions moves such rows out later.
CREATE TABLE points_default PARTITION OF points DEFAULT;

-- Creates the daily partitions points_YYYYMMDD covering [from_day, to_day] that are
-- missing, moving any rows the default partition already holds for those days.
CREATE FUNCTION pulse_ensure_points_partitions(from_day date, to_day date)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  d date := from_day;
  part text;
  created integer := 0;
BEGIN
  WHILE d <= to_day LOOP
    part := format('points_%s', to_char(d, 'YYYYMMDD'));
    IF to_regclass(part) IS NULL THEN
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

-- The plan's table shape, for people who come with the plan's queries.
CREATE VIEW performance_metrics_ts AS
SELECT p.ts            AS "timestamp",
       s.metric_name,
       p.value         AS metric_value,
       s.tags,
       s.source_agent_id,
       s.instance_id
FROM points p
JOIN series s ON s.id = p.series_id;
