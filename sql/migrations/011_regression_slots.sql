-- What regression detection reads: per series and 15-minute slot, the slot's minutes summed up.
-- A run compares a week of every series; read as minutes from rollup_1m that is 10,080 rows a
-- series (10 million for 1,000 series, more than five seconds to scan alone), read as slots it is
-- 672, stored by the hour. The aggregate job writes a closed hour's slots when it writes its
-- rollup_1h row; a run computes the slots of hours still open or dirty from rollup_1m
-- (minute_slots below).
--
-- Each minute's value is its mean (sum / count over its rollup_1m rows). Per slot:
--   minutes        minutes with data; vsum their values' sum (the slot's level: vsum / minutes)
--                  and vmax the highest of them;
--   first, last    the first and last minute's value, and rises: the sum of the rises from one
--                  minute to the next inside the slot (with first and last, a run adds the rises
--                  across slots: the new events of a counter of rare events);
--   whole          every minute's value a whole number ≥ 0 (a count of events).
CREATE TABLE regression_slots (
  series_id bigint      NOT NULL,
  hour      timestamptz NOT NULL,
  -- The hour's slots in time order, packed as minute_slots() packs them.
  slots     bytea       NOT NULL,
  PRIMARY KEY (series_id, hour)
);
CREATE INDEX regression_slots_hour_idx ON regression_slots (hour);

-- The slots of rollup_1m's minutes in [lo, hi), every series, one row per series and hour with
-- that hour's slots packed in time order, each as 54 bytes (big-endian):
--   bucket (epoch ms, float8), flags (int2: 1 whole, 2 from `split` on), minutes (int4),
--   vsum, vmax, first, last, rises (float8).
-- A slot that `split` cuts in two comes out as two slots, the one before it first (NULL
-- split: no slot is cut). One value per series and hour instead of four rows of twelve
-- columns: a week of 1,000 series is 168,000 short rows to read, not 672,000 wide ones.
CREATE FUNCTION minute_slots(lo timestamptz, hi timestamptz, split timestamptz)
RETURNS TABLE (series_id bigint, hour timestamptz, slots bytea)
LANGUAGE sql STABLE AS $$
  WITH minute AS (
    SELECT r.series_id, r.bucket,
           date_bin('15 minutes', r.bucket, timestamptz '2000-01-01 00:00:00+00') AS slot,
           (split IS NOT NULL AND r.bucket >= split)::int::smallint AS part,
           sum(r.sum) / sum(r.count) AS v
    FROM rollup_1m r
    WHERE r.bucket >= lo AND r.bucket < hi
    GROUP BY r.series_id, r.bucket
    -- A minute without points has no value (rows are never written so, but a damaged one
    -- must not stop the aggregate job).
    HAVING sum(r.count) > 0
  ), stepped AS (
    SELECT m.*, m.v - lag(m.v) OVER (PARTITION BY m.series_id, m.slot, m.part ORDER BY m.bucket) AS d
    FROM minute m
  ), slot AS (
    SELECT s.series_id, s.slot, s.part, count(*)::int AS minutes, sum(s.v) AS vsum, max(s.v) AS vmax,
           (array_agg(s.v ORDER BY s.bucket))[1] AS first,
           (array_agg(s.v ORDER BY s.bucket DESC))[1] AS last,
           coalesce(sum(greatest(s.d, 0)), 0) AS rises,
           bool_and(s.v >= 0 AND s.v = trunc(s.v)) AS whole
    FROM stepped s
    GROUP BY s.series_id, s.slot, s.part
  )
  SELECT s.series_id, date_trunc('hour', s.slot, 'UTC'),
         string_agg(
           float8send((extract(epoch FROM s.slot) * 1000)::float8)
             || int2send((s.whole::int + 2 * s.part)::smallint) || int4send(s.minutes)
             || float8send(s.vsum) || float8send(s.vmax) || float8send(s.first)
             || float8send(s.last) || float8send(s.rises),
           ''::bytea ORDER BY s.slot, s.part)
  FROM slot s
  GROUP BY 1, 2
$$;

-- The slots of what is stored already (the hours the aggregate job has closed; the others are
-- computed at read time).
INSERT INTO regression_slots (series_id, hour, slots)
SELECT series_id, hour, slots FROM minute_slots('-infinity', 'infinity', NULL);
