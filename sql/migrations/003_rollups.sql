-- Rollups at 1 minute and 1 hour: count, sum, min, max, last, and a DDSketch as a jsonb map of
-- bucket key → count (see src/metrics/sketch.ts). Sketches merge by adding counts per key,
-- which PostgreSQL can do itself, so percentiles at any resolution come from merged sketches.

CREATE TABLE rollup_1m (
  series_id bigint           NOT NULL,
  bucket    timestamptz      NOT NULL,
  count     bigint           NOT NULL,
  sum       double precision NOT NULL,
  min       double precision NOT NULL,
  max       double precision NOT NULL,
  last      double precision NOT NULL,
  last_ts   timestamptz      NOT NULL,
  sketch    jsonb            NOT NULL,
  PRIMARY KEY (series_id, bucket)
);
CREATE INDEX rollup_1m_bucket_idx ON rollup_1m (bucket);

-- Same columns, key and bucket index.
CREATE TABLE rollup_1h (LIKE rollup_1m INCLUDING ALL);

-- Hours whose rollup_1h rows are missing or stale: every flush marks the hours it touched,
-- and the aggregate job rebuilds exactly those. Readers take a dirty hour from rollup_1m.
CREATE TABLE rollup_dirty_hours (
  bucket    timestamptz PRIMARY KEY,
  marked_at timestamptz NOT NULL DEFAULT now()
);

-- Adds two sketches key by key.
CREATE FUNCTION pulse_sketch_merge(a jsonb, b jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
  FROM (
    SELECT key, sum(value::bigint) AS total
    FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) AS both_sides
    GROUP BY key
  ) AS merged
$$;
