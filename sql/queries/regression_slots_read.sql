-- Every series' 15-minute slots in [$1, $3), split at $2 (the baseline before it, the recent
-- window from it on). Slots of clean, closed hours come from regression_slots; those of dirty
-- or open hours, and the slots a window edge cuts ($4: their starts), are computed from
-- rollup_1m (minute_slots). One statement: one snapshot of both.
--
-- One row per series with data: `stored`, its stored hours' slots (the caller drops those
-- outside the window and the edge slots) and `computed`, the computed ones, each packed as
-- minute_slots() packs them, in time order. NULL where there are none.
-- Params: $1 from, $2 split, $3 to (timestamptz), $4 edge slots (timestamptz[])
WITH dirty AS (
  SELECT bucket FROM rollup_dirty_hours
), ranges AS (
  SELECT greatest(d.bucket, $1::timestamptz) AS lo, least(d.bucket + interval '1 hour', $3::timestamptz) AS hi
  FROM dirty d
  WHERE d.bucket < $3::timestamptz AND d.bucket + interval '1 hour' > $1::timestamptz
  UNION ALL
  SELECT greatest(e.slot, $1::timestamptz), least(e.slot + interval '15 minutes', $3::timestamptz)
  FROM unnest($4::timestamptz[]) AS e(slot)
  WHERE date_trunc('hour', e.slot, 'UTC') NOT IN (SELECT bucket FROM dirty)
), hours AS (
  SELECT s.series_id, s.hour, s.slots, false AS computed
  FROM regression_slots s
  WHERE s.hour > $1::timestamptz - interval '1 hour' AND s.hour < $3::timestamptz
    AND s.hour NOT IN (SELECT bucket FROM dirty)
  UNION ALL
  SELECT c.series_id, c.hour, c.slots, true
  FROM ranges r, LATERAL minute_slots(r.lo, r.hi, $2::timestamptz) AS c
)
SELECT series_id,
       string_agg(slots, ''::bytea ORDER BY hour) FILTER (WHERE NOT computed) AS stored,
       string_agg(slots, ''::bytea ORDER BY hour) FILTER (WHERE computed) AS computed
FROM hours
GROUP BY series_id
