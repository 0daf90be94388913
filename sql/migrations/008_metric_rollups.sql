-- Metric-level rollups: every series of a metric merged, at four widths (1 minute, 5 minutes,
-- 1 hour, 1 day), so a dashboard read costs per metric and bucket asked for, never per series
-- × minute. Each flush appends one partial row per metric, width and bucket it touched to
-- metric_rollup_partial, in the transaction that stores the points; the compaction step moves
-- partial rows into metric_rollup (one row per key). Readers merge both tables, so every width
-- is complete at all times: no dirty tracking, an open hour or day reads like a closed one.
--
-- Sketches are stored in a compact binary form merged in Node (src/metrics/sketch.ts
-- SketchAcc); `series` is a bitmap of the series ordinals that reported in the bucket.
-- The rows for data stored before this migration are built by its data step (in the same
-- transaction) from rollup_1m and rollup_1h: see src/metrics/metric-rollup.ts.

CREATE TABLE metrics (
  id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text    NOT NULL UNIQUE,
  -- Ordinals given so far: a new series of this metric gets the next one.
  series_count integer NOT NULL DEFAULT 0
);

INSERT INTO metrics (name) SELECT DISTINCT metric_name FROM series ORDER BY 1;

ALTER TABLE series ADD COLUMN metric_id integer, ADD COLUMN ordinal integer;
UPDATE series s
SET metric_id = n.metric_id, ordinal = n.ordinal
FROM (
  SELECT s2.id, m.id AS metric_id, (row_number() OVER (PARTITION BY m.id ORDER BY s2.id) - 1)::int AS ordinal
  FROM series s2 JOIN metrics m ON m.name = s2.metric_name
) n
WHERE n.id = s.id;
UPDATE metrics m SET series_count = c.n
FROM (SELECT metric_id, count(*)::int AS n FROM series GROUP BY 1) c
WHERE c.metric_id = m.id;
ALTER TABLE series
  ALTER COLUMN metric_id SET NOT NULL,
  ALTER COLUMN ordinal SET NOT NULL,
  ADD CONSTRAINT series_metric_ordinal_key UNIQUE (metric_id, ordinal);

-- Inserts the series that do not exist yet, numbering each metric's new series after its
-- existing ones. The metrics' rows are locked (in id order, so concurrent callers cannot
-- deadlock) until the caller's transaction ends; only callers adding series take them.
CREATE FUNCTION pulse_insert_series(fps uuid[], names text[], agents text[], instances text[], tag_sets jsonb[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO metrics (name)
  SELECT DISTINCT n FROM unnest(names) AS n ORDER BY 1
  ON CONFLICT (name) DO NOTHING;
  PERFORM 1 FROM metrics WHERE name = ANY(names) ORDER BY id FOR UPDATE;
  WITH input AS (
    SELECT DISTINCT ON (i.fingerprint) i.*, m.id AS metric_id, m.series_count
    FROM unnest(fps, names, agents, instances, tag_sets)
           AS i(fingerprint, metric_name, source_agent_id, instance_id, tags)
    JOIN metrics m ON m.name = i.metric_name
    WHERE NOT EXISTS (SELECT 1 FROM series s WHERE s.fingerprint = i.fingerprint)
    ORDER BY i.fingerprint
  ), numbered AS (
    SELECT input.*,
           (series_count + row_number() OVER (PARTITION BY metric_id ORDER BY fingerprint) - 1)::int AS ordinal
    FROM input
  ), inserted AS (
    INSERT INTO series (fingerprint, metric_name, source_agent_id, instance_id, tags, metric_id, ordinal)
    SELECT fingerprint, metric_name, source_agent_id, instance_id, tags, metric_id, ordinal
    FROM numbered
    ORDER BY fingerprint
    RETURNING metric_id
  )
  UPDATE metrics m SET series_count = m.series_count + c.n
  FROM (SELECT metric_id, count(*)::int AS n FROM inserted GROUP BY 1) c
  WHERE c.metric_id = m.id;
END
$$;

CREATE TABLE metric_rollup (
  metric_id integer          NOT NULL,
  -- Bucket width in seconds: 60, 300, 3600 or 86400; buckets are aligned to the epoch (UTC).
  width     integer          NOT NULL CHECK (width IN (60, 300, 3600, 86400)),
  bucket    timestamptz      NOT NULL,
  count     bigint           NOT NULL,
  sum       double precision NOT NULL,
  min       double precision NOT NULL,
  max       double precision NOT NULL,
  last      double precision NOT NULL,
  last_ts   timestamptz      NOT NULL,
  series    bytea            NOT NULL,
  sketch    bytea            NOT NULL,
  PRIMARY KEY (metric_id, width, bucket)
);
-- Reads of every metric at once (the summary), and retention.
CREATE INDEX metric_rollup_width_bucket_idx ON metric_rollup (width, bucket);

CREATE TABLE metric_rollup_partial (LIKE metric_rollup INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
CREATE INDEX metric_rollup_partial_key_idx ON metric_rollup_partial (metric_id, width, bucket);
CREATE INDEX metric_rollup_partial_width_bucket_idx ON metric_rollup_partial (width, bucket);
